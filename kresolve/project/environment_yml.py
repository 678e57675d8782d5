"""conda environment files (environment.yml / .yaml, MLflow's conda.yaml) and conda MatchSpecs.

The YAML goes through `safe_yaml` (no aliases, no tags, every scalar a string). Each entry of
`dependencies` is a conda MatchSpec, converted to the PEP 440 evidence the rest of kresolve
compares (conda's `=1.15` means 1.15.*); the `pip:` section is pip's requirements syntax.

The MatchSpec reading is hand code on purpose: what matters here is the conversion to PEP 440
evidence, which no library does, and py-rattler's `MatchSpec` (the parser `lock` uses) normalises
`=1.15.0` to `1.15.0.*`, losing the "this exact release" reading a pinned environment file
means; it would also load a compiled extension into `inspect` for a few string splits.
"""

from __future__ import annotations

import re
from pathlib import Path

from packaging.utils import canonicalize_name

from kresolve.project.evidence import Collector, ProjectEvidence, ProjectKind
from kresolve.project.reading import path_key, yaml_document
from kresolve.project.requirements import requirement_lines
from kresolve.project.specs import OPERATOR, spec_value

# conda package names whose PyPI distribution is called differently.
CONDA_TO_PYPI = {"pytorch": "torch"}

_CONDA_SPEC = re.compile(r"^(?:(?P<channel>[^\s:]+)::)?(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(?P<rest>.*)$")


def parse_conda_env(path: Path, top: Path) -> ProjectEvidence:
    col = Collector(path, ProjectKind.CONDA_ENV)
    document = yaml_document(col, path, top)
    if document is None:
        return col.evidence()
    deps = document.get("dependencies")
    if deps is None:
        col.note(f"{path.name}: no dependencies list")
        return col.evidence()
    if not isinstance(deps, list):
        col.note(f"{path.name}: 'dependencies' is not a list")
        return col.evidence()
    for index, item in enumerate(deps):
        where = f"{path.name}: dependencies[{index}]"
        if isinstance(item, str):
            add_conda_spec(col, item, where)
        elif isinstance(item, dict) and set(item) == {"pip"}:
            pip = item["pip"]
            if isinstance(pip, list) and all(isinstance(line, str) for line in pip):
                requirement_lines(col, pip, path, top, [path_key(path)], None)
            elif pip is not None:
                col.note(f"{where}: the pip section is not a list of strings")
        else:
            col.note(f"{where}: unexpected entry {str(item)[:60]}")
    return col.evidence()


def add_conda_spec(col: Collector, text: str, where: str) -> None:
    """A conda MatchSpec: `name`, `name=1.15`, `name=1.15.0=build`, `name==1.15.0`,
    `name>=1.16,<1.19`, `name 1.15.* build`, `channel::name=...`, `name[version='>=1']`."""
    match = _CONDA_SPEC.match(text.strip())
    if not match:
        col.note(f"{where}: cannot parse conda spec {text[:60]!r}")
        return
    name, rest = match.group("name"), match.group("rest").strip()
    name = CONDA_TO_PYPI.get(name.lower(), name)
    # "numpy >= 1.16, < 1.19": spaces around operators and commas are not a build separator
    rest = re.sub(r"\s*,\s*", ",", re.sub(r"(^|,)\s*(===|==|>=|<=|!=|~=|>|<)\s+", r"\1\2", rest))
    build = None
    if rest.startswith("["):
        version = re.search(r"version\s*=\s*['\"]?([^'\",\]]+(?:,[^'\"\]]+)*)['\"]?", rest)
        rest = version.group(1).strip() if version else ""
        if not version:
            col.note(f"{where}: bracket spec {text[:60]!r} names no version")
    elif " " in rest:
        rest, _, build = rest.partition(" ")
        build = build.strip() or None
    # "=1.15.0=build" / "==1.15.0=build": the last field is the build string
    equals = 3 if rest.startswith("==") else 2 if rest.startswith("=") else 0
    if build is None and equals and rest.count("=") >= equals:
        build = rest.rsplit("=", 1)[1]
    conda_build_note(col, name, build)
    converted = conda_version(rest, bool(build))
    if converted is None:
        col.note(f"{where}: conda version spec {rest!r} for {name} kept as written")
        col.add(name, rest, False, where=where)
        return
    value, exact = converted
    col.add(name, value, exact, where=where)


def conda_build_note(col: Collector, name: str, build: str | None) -> None:
    """conda's TensorFlow builds say GPU / MKL / Eigen in their build string."""
    if not build or canonicalize_name(name).strip("-") not in ("tensorflow", "tensorflow-base", "tflow-select"):
        return
    flavour = next((f for f in ("gpu", "cuda", "mkl", "eigen") if f in build.lower()), None)
    if flavour in ("gpu", "cuda"):
        col.note(f"conda {name} build {build!r}: a GPU build of TensorFlow: the training env "
                 "likely had an NVIDIA GPU")
    elif flavour:
        col.note(f"conda {name} build {build!r}: a CPU build of TensorFlow ({flavour})")


def conda_version(rest: str, has_build: bool = False) -> tuple[str, bool] | None:
    """A conda version spec as (PEP 440 value, exact); None if it cannot be converted."""
    rest = rest.strip()
    if not rest or rest == "*":
        return "", False
    if rest.startswith("=") and not rest.startswith("=="):
        version, _, build = rest[1:].partition("=")
        has_build = has_build or bool(build)
        version = version.strip()
        if not version:
            return None
        if version.endswith("*"):
            return _wildcard(version)
        # conda's `=1.15` matches 1.15.*; a full x.y.z (or a build string) names one release
        if has_build or version.count(".") >= 2:
            return (version, True) if spec_value(f"=={version}") else None
        return spec_value(f"=={version}.*")
    if "|" in rest:
        return None
    if OPERATOR.match(rest):
        pinned = re.fullmatch(r"==\s*([^=,<>!~\s*]+)=(\S+)", rest)  # name==1.2.3=build
        if pinned:
            return (pinned.group(1), True) if spec_value(f"=={pinned.group(1)}") else None
        text = ",".join(part.strip() for part in rest.split(","))
        # conda's `==1.15*` wildcard is PEP 440's `==1.15.*`
        text = re.sub(r"(==|!=)\s*([0-9][^,]*?)\.?\*(?=,|$)", r"\1\2.*", text)
        return spec_value(text)
    if rest.endswith("*"):
        return _wildcard(rest)
    # bare version ("tensorflow 1.15.0"): conda reads it as an exact match
    return (rest, True) if spec_value(f"=={rest}") else None


def _wildcard(version: str) -> tuple[str, bool] | None:
    prefix = version.rstrip("*").rstrip(".")
    if not prefix:
        return "", False
    return spec_value(f"=={prefix}.*")
