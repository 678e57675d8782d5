"""YAML for project files (environment.yml, conda.yaml, MLflow's python_env.yaml, MLmodel),
through PyYAML's safe loader with the limits untrusted files need.

`SafeLoader` alone never builds Python objects, but it still expands aliases (a few hundred
bytes of nested anchors make a "billion laughs" document of gigabytes), recurses once per
nesting level, and turns `python: 3.10` into the float 3.1. `ProjectLoader` therefore:
- refuses anchors, aliases and explicit tags at the first one, before anything is expanded
  (conda and MLflow never write them);
- refuses nesting deeper than MAX_DEPTH (the composer recurses per level);
- keeps every scalar a string (no implicit int/float/bool/date resolution) except the empty
  value, which stays None as in YAML (`pip:` with nothing under it);
and `load` refuses text over MAX_YAML_BYTES before parsing. Every failure is a `YamlError`
carrying the line and a one-line problem, which callers turn into a note on the evidence.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, NodeEvent, ScalarEvent
from yaml.nodes import Node

MiB = 1024 * 1024
MAX_YAML_BYTES = 1 * MiB  # hand-written env files are a few KiB; `conda env export` ~20 KiB
MAX_DEPTH = 64


class YamlError(ValueError):
    """A document that is not read: `line` (1-based, 0 when unknown) and what is wrong."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}" if line else problem)
        self.line = line
        self.problem = problem


class ProjectLoader(yaml.SafeLoader):
    """SafeLoader without aliases, anchors, tags, deep nesting or implicit typing (module doc)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # types-PyYAML leaves the parser's methods unannotated
        if isinstance(event, AliasEvent) or (isinstance(event, NodeEvent) and event.anchor is not None):
            raise YamlError(_line(event.start_mark), "anchors, aliases and tags are not supported")
        if isinstance(event, (ScalarEvent, CollectionStartEvent)) and event.tag is not None:
            raise YamlError(_line(event.start_mark), "anchors, aliases and tags are not supported")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlError(_line(event.start_mark), "nested too deeply")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _line(mark: Any) -> int:
    return int(mark.line) + 1 if mark is not None else 0


# No implicit typing: the empty plain scalar is null (YAML's own rule); everything else stays
# the text written ("3.10", "yes", "2021-01-01" are strings).
ProjectLoader.yaml_implicit_resolvers = {}
ProjectLoader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^$"), [""])


def load(text: str, limit: int = MAX_YAML_BYTES) -> Any:
    """The single document in `text` (dict, list, str or None for an empty document)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise YamlError(0, f"{size // 1024} KiB, over the {limit // 1024} KiB limit for YAML files")
    try:
        loader = ProjectLoader(text)  # the reader refuses control characters here already
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise _error(exc, text) from None
    except yaml.YAMLError as exc:
        raise YamlError(0, str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__) from None


def _error(exc: yaml.MarkedYAMLError, text: str) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 0
    problem = exc.problem or exc.context or type(exc).__name__
    if "'\\t'" in problem and mark is not None:
        lines = text.splitlines()
        before = lines[mark.line][: mark.column] if mark.line < len(lines) else ""
        problem = "tab used for indentation" if not before.strip(" ") else "a tab where YAML allows none"
    elif "another document" in problem:
        problem = "more than one YAML document"
    elif exc.context and exc.problem:
        problem = f"{exc.problem} ({exc.context})"
    return YamlError(line, " ".join(problem.split())[:120])
