"""`environment.template.yml`: the serving packages a user wants next to the model.

The conda format of `environment.yml` (`name`, `channels`, `dependencies`, a `pip:` list inside
`dependencies`), read with PyYAML's safe loader: no aliases or anchors, no tags, at most
`MAX_BYTES`. Conda dependencies join the conda solve; pip ones are extra requirements of
kresolve's own pip solve. Bad templates are bad input (exit 2), naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from packaging.requirements import InvalidRequirement, Requirement

from ..errors import BadInput

MAX_BYTES = 256 * 1024
KEYS = frozenset({"name", "channels", "dependencies", "prefix", "variables"})


@dataclass(frozen=True)
class Template:
    path: str
    name: str | None
    channels: tuple[str, ...]
    conda: tuple[str, ...]  # conda MatchSpecs ("uvicorn >=0.30", "numpy=1.26")
    pip: tuple[str, ...]  # PEP 508 requirements
    text: str  # the file's content (its hash goes into the lock's metadata)


def _refuse_aliases(text: str, path: str) -> None:
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise BadInput(f"{path}: YAML anchors and aliases are not allowed in a template")


def _strings(value: object, path: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise BadInput(f"{path}: `{key}` must be a list of strings")
    return tuple(v.strip() for v in value)


def _conda_spec(text: str, path: str) -> str:
    from rattler import MatchSpec
    from rattler.exceptions import InvalidMatchSpecError

    try:
        MatchSpec(text)
    except InvalidMatchSpecError as exc:
        raise BadInput(f"{path}: conda dependency {text!r} is not a valid match spec ({' '.join(str(exc).split())})") from None
    return text


def parse_template(text: str, path: str) -> Template:
    try:
        _refuse_aliases(text, path)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping with `dependencies` (an environment.yml), got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in KEYS)
    if unknown:
        raise BadInput(f"{path}: unknown key(s) {', '.join(unknown)} (expected {', '.join(sorted(KEYS))})")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise BadInput(f"{path}: `name` must be a string")
    channels = _strings(data.get("channels"), path, "channels")
    deps = data.get("dependencies")
    if not isinstance(deps, list) or not deps:
        raise BadInput(f"{path}: `dependencies` must be a non-empty list")
    conda: list[str] = []
    pip: list[str] = []
    for dep in deps:
        if isinstance(dep, str) and dep.strip():
            conda.append(_conda_spec(dep.strip(), path))
        elif isinstance(dep, dict) and list(dep) == ["pip"]:
            for req in _strings(dep["pip"], path, "pip"):
                if req.startswith("-"):
                    raise BadInput(f"{path}: pip option {req!r} is not supported in a template (list requirements only)")
                try:
                    Requirement(req)
                except InvalidRequirement as exc:
                    raise BadInput(f"{path}: pip requirement {req!r}: {exc}") from None
                pip.append(req)
        else:
            raise BadInput(f"{path}: each dependency must be a conda spec string or a `pip:` list, got {dep!r}")
    return Template(path, name, channels, tuple(conda), tuple(pip), text)


def read_template(path: str | Path) -> Template:
    file = Path(path)
    try:
        if file.stat().st_size > MAX_BYTES:
            raise BadInput(f"{file}: larger than {MAX_BYTES // 1024} KiB, not an environment template")
        text = file.read_text("utf-8")
    except OSError as exc:
        raise BadInput(f"{file}: cannot read the template ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise BadInput(f"{file}: not UTF-8 text, not an environment template") from None
    return parse_template(text, str(file))
