"""A real conda channel on disk for tests: small `.conda` packages built with
conda-package-handling (info/index.json, paths.json, a file), indexed by py-rattler's indexer into
real repodata.json files. Served as `file://` (or over HTTP by the test)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SUBDIRS = ("linux-64", "osx-arm64", "win-64", "noarch")


@dataclass(frozen=True)
class Pkg:
    name: str
    version: str
    depends: tuple[str, ...] = ()
    subdirs: tuple[str, ...] = ("linux-64", "osx-arm64", "win-64")  # ("noarch",) for noarch: python
    build: str = "h0_0"
    constrains: tuple[str, ...] = ()
    extra_depends: dict[str, tuple[str, ...]] = field(default_factory=dict)  # subdir -> more depends


def build_package(out: Path, subdir: str, pkg: Pkg) -> Path:
    from conda_package_handling import api as cph

    noarch = subdir == "noarch"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "info").mkdir()
        payload = f"site-packages/{pkg.name.replace('-', '_')}/__init__.py" if noarch else f"share/{pkg.name}/README"
        (root / payload).parent.mkdir(parents=True)
        (root / payload).write_text(f"{pkg.name} {pkg.version} for {subdir}\n")
        index = {
            "name": pkg.name, "version": pkg.version, "build": pkg.build,
            "build_number": int(pkg.build.rsplit("_", 1)[-1]), "subdir": subdir, "license": "BSD-3-Clause",
            "depends": list(pkg.depends) + list(pkg.extra_depends.get(subdir, ())),
            "constrains": list(pkg.constrains), "timestamp": 1700000000000,
        }
        if noarch:
            index["noarch"] = "python"
        (root / "info" / "index.json").write_text(json.dumps(index))
        (root / "info" / "paths.json").write_text(json.dumps(
            {"paths": [{"_path": payload, "path_type": "hardlink", "size_in_bytes": (root / payload).stat().st_size}],
             "paths_version": 1}))
        (root / "info" / "about.json").write_text(json.dumps({"summary": f"test package {pkg.name}"}))
        if noarch:
            (root / "info" / "link.json").write_text(json.dumps({"noarch": {"type": "python"}, "package_metadata_version": 1}))
        files = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
        dest = out / subdir
        dest.mkdir(parents=True, exist_ok=True)
        name = f"{pkg.name}-{pkg.version}-{pkg.build}.conda"
        cph.create(str(root), files, name, out_folder=str(dest))
    return dest / name


def build_channel(root: Path, packages: list[Pkg]) -> Path:
    """`root/<subdir>/*.conda` + repodata.json for every subdir (noarch always present)."""
    from rattler.index import index_fs

    for subdir in SUBDIRS:
        (root / subdir).mkdir(parents=True, exist_ok=True)
    for pkg in packages:
        for subdir in pkg.subdirs:
            build_package(root, subdir, pkg)
    asyncio.run(index_fs(root, write_zst=False, write_shards=False, force=True))
    return root


def standard_packages() -> list[Pkg]:
    """Named like the real ones, with real dependencies between them: python (per platform,
    needing __glibc on Linux), pip and numpy (noarch python), cudatoolkit and cudnn (linux-64 and
    win-64; cudnn needs cudatoolkit, cudatoolkit needs __cuda), a template package (uvicorn)."""
    return [
        Pkg("python", "3.11.9", build="h0_0", extra_depends={"linux-64": ("__glibc >=2.17,<3.0.a0",)}),
        Pkg("python", "3.12.4", build="h0_0", extra_depends={"linux-64": ("__glibc >=2.17,<3.0.a0",)}),
        Pkg("pip", "24.0", depends=("python >=3.8",), subdirs=("noarch",), build="pyhd8ed1ab_0"),
        Pkg("numpy", "1.26.4", depends=("python >=3.9",), subdirs=("noarch",), build="pyhd8ed1ab_0"),
        Pkg("cudatoolkit", "11.8.0", depends=("__cuda >=11",), subdirs=("linux-64", "win-64"), build="h4ba93d1_13"),
        Pkg("cudatoolkit", "11.2.2", depends=("__cuda >=11",), subdirs=("linux-64", "win-64"), build="hc23eb0c_13"),
        Pkg("cudnn", "8.6.0.163", depends=("cudatoolkit 11.*",), subdirs=("linux-64", "win-64"), build="h6a3a4b9_0"),
        Pkg("cudnn", "8.1.0.77", depends=("cudatoolkit 11.*",), subdirs=("linux-64", "win-64"), build="h90431f1_0"),
        Pkg("uvicorn", "0.30.1", depends=("python >=3.8", "h11 >=0.8"), subdirs=("noarch",), build="pyh31011fe_0"),
        Pkg("h11", "0.14.0", depends=("python >=3.6",), subdirs=("noarch",), build="pyhd8ed1ab_0"),
    ]
