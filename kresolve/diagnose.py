"""`kresolve diagnose`: map a model-load error text to known causes and their fixes.

Pure functions over the rules DB: `[[known_bad]]` rules (rules/known-bad.toml) carry regular
expressions for the messages users see and, where established, the combination of versions that
causes them. `diagnose` finds every rule whose signature occurs in the text and says whether the
installed versions (when known) satisfy the rule's `when`; `render_diagnoses` turns the result
into one line per cause, for the CLI and for failed smoke tests.

The text may be a whole traceback file: it is bounded to `MAX_TEXT_CHARS` (head and tail kept,
where the first and the final exceptions of a chained traceback live). The patterns are ours and
are written line-local, without nested quantifiers; each is compiled once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from .rules.db import KnownBad, RulesDB

MAX_TEXT_CHARS = 1_000_000
_HEAD_CHARS = MAX_TEXT_CHARS // 4
_FRAGMENT_CHARS = 240

# Distributions that provide the `tensorflow` package under another name: a `when` on
# `tensorflow` is evaluated against them when plain `tensorflow` is not among the installed.
_ALIASES = {
    "tensorflow": ("tensorflow-cpu", "tensorflow-gpu", "tensorflow-macos", "tensorflow-intel",
                   "tensorflow-aarch64", "tensorflow-cpu-aws", "tf-nightly", "tf-nightly-cpu"),
}


@dataclass(frozen=True)
class Diagnosis:
    """One known cause whose error signature occurs in the text."""

    rule_id: str
    cause: str
    fix: str
    source: str
    matched: str  # the line of the text that matched, trimmed around the match
    applies: bool | None  # do the installed versions satisfy `when`? None: unknown or no `when`
    when: tuple[str, ...] = ()
    why: str = ""  # how `applies` was decided, in words

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "cause": self.cause,
            "fix": self.fix,
            "source": self.source,
            "matched": self.matched,
            "applies": self.applies,
            "when": list(self.when),
            "why": self.why,
        }


@lru_cache(maxsize=2048)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def bound_text(text: str | bytes) -> str:
    """The text as str, at most MAX_TEXT_CHARS: the head and the tail of a longer one."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text[:MAX_TEXT_CHARS * 4]).decode("utf-8", "replace")
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[:_HEAD_CHARS] + "\n" + text[-(MAX_TEXT_CHARS - _HEAD_CHARS):]


def _fragment(text: str, match: re.Match[str]) -> str:
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    if end == -1:
        end = len(text)
    line = text[start:end]
    if len(line) > _FRAGMENT_CHARS:
        # keep the match and some context after it (the names users need usually follow)
        at = max(match.start() - start - 40, 0)
        line = ("…" if at else "") + line[at:at + _FRAGMENT_CHARS] + "…"
    return line.strip()


def _first_match(text: str, rule: KnownBad) -> re.Match[str] | None:
    for pattern in rule.signatures:
        match = _compiled(pattern).search(text)
        if match:
            return match
    return None


def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        # "2.2.4-tf", "2.15.0rc1+nv" and the like: judge by the release number in front
        head = re.match(r"\d+(?:\.\d+)*", text.strip())
        return Version(head.group(0)) if head else None


def _installed_version(installed: Mapping[str, str], name: str) -> tuple[str, str] | None:
    name = canonicalize_name(name)
    for candidate in (name, *_ALIASES.get(name, ())):
        if installed.get(candidate):
            return candidate, installed[candidate]
    return None


def _applies(when: tuple[Requirement, ...], installed: Mapping[str, str] | None) -> tuple[bool | None, str]:
    if not when:
        return None, "no version combination recorded for this cause; the text alone points to it"
    if installed is None:
        return None, "installed versions unknown"
    unknown, failed, held = [], [], []
    for req in when:
        found = _installed_version(installed, req.name)
        version = _version(found[1]) if found else None
        if found is None or version is None:
            unknown.append(req.name)
        elif req.specifier.contains(version, prereleases=True):
            held.append(f"{found[0]} {found[1]} is {req.specifier}")
        else:
            failed.append(f"{found[0]} {found[1]} is not {req.specifier}")
    if failed:
        return False, "; ".join(failed)
    if unknown:
        return None, f"version of {', '.join(unknown)} unknown" + (f" ({'; '.join(held)})" if held else "")
    return True, "; ".join(held)


_RANK = {True: 0, None: 1, False: 2}


def diagnose(
    text: str | bytes,
    db: RulesDB,
    installed: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
) -> tuple[Diagnosis, ...]:
    """Known causes whose signatures occur in `text`, most likely first.

    `installed` maps distribution names to versions (`python` for the interpreter); a sequence of
    (name, version) pairs, such as SmokeResult.versions, works too. Ranking: matches whose `when`
    holds for `installed`, then those where it cannot be told (no `when`, or versions unknown),
    then those whose `when` fails (still shown: the text itself points to them); within a rank,
    the order of the rules DB, which lists specific causes before general ones.
    """
    text = bound_text(text)
    if not text.strip():
        return ()
    versions: dict[str, str] | None = None
    if installed is not None:
        pairs = installed.items() if isinstance(installed, Mapping) else installed
        versions = {canonicalize_name(str(k)): str(v) for k, v in pairs if v is not None}
    found: list[tuple[int, int, Diagnosis]] = []
    for order, rule in enumerate(db.known_bad):
        match = _first_match(text, rule)
        if match is None:
            continue
        applies, why = _applies(rule.when, versions)
        found.append((_RANK[applies], order, Diagnosis(
            rule_id=rule.id,
            cause=rule.cause,
            fix=rule.fix,
            source=rule.source,
            matched=_fragment(text, match),
            applies=applies,
            when=tuple(str(r) for r in rule.when),
            why=why,
        )))
    found.sort(key=lambda item: (item[0], item[1]))
    return tuple(d for _, _, d in found)


def render_diagnoses(diagnoses: Iterable[Diagnosis], limit: int | None = None) -> str:
    """One line per cause (empty string when there is none), for appending to a failure reason."""
    diagnoses = list(diagnoses)
    shown = diagnoses if limit is None else diagnoses[:max(limit, 0)]
    lines = []
    for d in shown:
        if d.applies is True:
            note = f" (your versions match: {d.why})"
        elif d.applies is False:
            note = f" (less likely here: {d.why})"
        else:
            note = ""
        lines.append(f"known cause [{d.rule_id}]{note}: {d.cause}. Fix: {d.fix}. Source: {d.source}")
    if len(diagnoses) > len(shown):
        rest = len(diagnoses) - len(shown)
        lines.append(f"... and {rest} more known cause{'s' if rest != 1 else ''} (kresolve diagnose)")
    return "\n".join(lines)


@dataclass(frozen=True)
class KnownCauses:
    """`diagnose` bound to one rules DB, rendered: what a failed smoke test appends to its reason.
    The caller's rules travel with it (a plain value: scan pickles it into its child processes)."""

    db: RulesDB
    limit: int = 2

    def __call__(self, text: str, installed: Mapping[str, str]) -> str:
        return render_diagnoses(diagnose(text, self.db, installed), limit=self.limit)
