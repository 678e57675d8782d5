"""Approved version sets: what a platform team allows, blocks and requires (TOML, see
rules/approved/). The solver stays inside them and names the policy rule that blocked a version."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from .errors import BadInput


class PolicyKind(StrEnum):
    """A policy section: `[[allow]]` keeps a package inside its range, `[[block]]` keeps it out."""

    ALLOW = "allow"
    BLOCK = "block"


@dataclass(frozen=True)
class PolicyRule:
    kind: PolicyKind
    package: str  # canonical name, or "python"
    versions: SpecifierSet
    reason: str

    def describe(self, policy: str) -> str:
        verb = "allows only" if self.kind is PolicyKind.ALLOW else "blocks"
        return f"policy {policy!r} {verb} {self.package}{self.versions} ({self.reason})"


@dataclass(frozen=True)
class Policy:
    name: str
    path: str
    rules: tuple[PolicyRule, ...]
    requires: tuple[tuple[Requirement, str], ...]  # (requirement, reason)

    def verdict(self, package: str, version: Version) -> PolicyRule | None:
        """The first policy rule that excludes `version` of `package`, or None if allowed."""
        for rule in self.rules:
            if rule.package != package:
                continue
            inside = rule.versions.contains(version, prereleases=True)
            if (rule.kind is PolicyKind.ALLOW) != inside:  # outside an allow range, or inside a block range
                return rule
        return None


def load_policy(path: str | Path) -> Policy:
    import tomllib  # here: a lock without a policy never imports it

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: policy file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadInput(f"{path}: not a readable TOML policy: {exc}") from None
    unknown = set(data) - {"policy", "allow", "block", "require"}
    if unknown:
        raise BadInput(f"{path}: unknown section(s) {', '.join(sorted(unknown))} (expected policy, allow, block, require)")
    name = (data.get("policy") or {}).get("name") or path.stem
    rules, requires = [], []
    for kind in PolicyKind:
        for i, entry in enumerate(data.get(kind.value, [])):
            where = f"{path}: [[{kind}]] #{i + 1}"
            if not isinstance(entry, dict) or not isinstance(entry.get("package"), str) or not isinstance(entry.get("versions"), str):
                raise BadInput(f"{where}: needs 'package' and 'versions' strings")
            try:
                spec = SpecifierSet(entry["versions"])
            except InvalidSpecifier:
                raise BadInput(f"{where}: bad version range {entry['versions']!r}") from None
            rules.append(PolicyRule(kind, canonicalize_name(entry["package"]), spec, str(entry.get("reason", "no reason given"))))
    for i, entry in enumerate(data.get("require", [])):
        where = f"{path}: [[require]] #{i + 1}"
        try:
            requires.append((Requirement(entry["requirement"]), str(entry.get("reason", f"required by policy {name!r}"))))
        except (KeyError, TypeError, InvalidRequirement) as exc:
            raise BadInput(f"{where}: needs a valid 'requirement' ({exc})") from None
    return Policy(name=name, path=str(path), rules=tuple(rules), requires=tuple(requires))
