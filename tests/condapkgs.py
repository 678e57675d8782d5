"""Real `.conda` packages with chosen files (and symlinks) for install tests, built with
conda-package-handling in conda's format (info/index.json, info/paths.json), in a `file://` channel
indexed by py-rattler's indexer; and a conda-lock.yml for them written through conda-lock's models.

`venv_python(...)`: a `python` package whose payload is a venv layout (`pyvenv.cfg` + `bin/python`
symlinked to this test's interpreter). It is a real conda package in the real format, but its
interpreter is borrowed: a full CPython build is ~30 MB and conda channels are not reachable here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path


def build(channel: Path, subdir: str, name: str, version: str, files: dict[str, str | bytes],
          links: dict[str, str] | None = None, build_string: str = "h0_0", depends: tuple[str, ...] = ()) -> Path:
    """`channel/subdir/name-version-build.conda` holding `files` (path -> content) and `links`
    (path -> symlink target)."""
    from conda_package_handling import api as cph

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "info").mkdir()
        paths = []
        for rel, content in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            data = content.encode() if isinstance(content, str) else content
            (root / rel).write_bytes(data)
            paths.append({"_path": rel, "path_type": "hardlink", "sha256": hashlib.sha256(data).hexdigest(),
                          "size_in_bytes": len(data)})
        for rel, target in (links or {}).items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, root / rel)
            paths.append({"_path": rel, "path_type": "softlink", "size_in_bytes": len(target)})
        index = {"name": name, "version": version, "build": build_string,
                 "build_number": int(build_string.rsplit("_", 1)[-1]), "subdir": subdir, "license": "BSD-3-Clause",
                 "depends": list(depends), "timestamp": 1700000000000}
        (root / "info" / "index.json").write_text(json.dumps(index))
        (root / "info" / "paths.json").write_text(json.dumps({"paths": paths, "paths_version": 1}))
        (root / "info" / "files").write_text("\n".join(p["_path"] for p in paths) + "\n")
        members = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()]
        dest = channel / subdir
        dest.mkdir(parents=True, exist_ok=True)
        out = f"{name}-{version}-{build_string}.conda"
        cph.create(str(root), members, out, out_folder=str(dest))
    return dest / out


def venv_python(channel: Path, subdir: str) -> Path:
    """`python` X.Y.Z whose `bin/python` is this interpreter, made a venv by `pyvenv.cfg`."""
    real = Path(os.path.realpath(sys.executable))
    version = ".".join(str(v) for v in sys.version_info[:3])
    cfg = f"home = {real.parent}\ninclude-system-site-packages = false\nversion = {version}\n"
    return build(channel, subdir, "python", version, {"pyvenv.cfg": cfg},
                 links={"bin/python": str(real), "bin/python3": str(real)})


def index(channel: Path) -> None:
    from rattler.index import index_fs

    (channel / "noarch").mkdir(parents=True, exist_ok=True)
    asyncio.run(index_fs(channel, write_zst=False, write_shards=False, force=True))


def write_conda_lock(path: Path, platform: str, conda: list[Path], pip: list[tuple[str, str, Path]],
                     custom_metadata: dict[str, str] | None = None) -> Path:
    """A conda-lock.yml v1 through conda-lock's own models: `conda` .conda files (their
    index.json gives name/version/build), `pip` (name, version, wheel file) entries."""
    from conda_lock.lockfile import write_conda_lock_file
    from conda_lock.lockfile.v1.models import HashModel, LockMeta
    from conda_lock.lockfile.v2prelim.models import LockedDependency, Lockfile
    from conda_package_handling import api as cph

    deps = []
    for pkg in conda:
        with tempfile.TemporaryDirectory() as tmp:
            cph.extract(str(pkg), tmp, components="info")
            info = json.loads((Path(tmp) / "info" / "index.json").read_text())
        data = pkg.read_bytes()
        deps.append(LockedDependency(
            name=info["name"], version=info["version"], manager="conda", platform=platform, build=info["build"],
            dependencies={d.split(" ")[0]: " ".join(d.split(" ")[1:]) for d in info["depends"]},
            url=pkg.as_uri(), hash=HashModel(md5=hashlib.md5(data).hexdigest(), sha256=hashlib.sha256(data).hexdigest()),
            categories={"main"}))
    for name, version, wheel in pip:
        deps.append(LockedDependency(
            name=name, version=version, manager="pip", platform=platform, dependencies={}, url=wheel.as_uri(),
            hash=HashModel(sha256=hashlib.sha256(wheel.read_bytes()).hexdigest()), categories={"main"}))
    lock = Lockfile(package=deps, metadata=LockMeta(
        content_hash={platform: "0" * 64}, channels=[conda[0].parent.parent.as_uri()] if conda else [],
        platforms=[platform], sources=["environment.yml"], custom_metadata=custom_metadata))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_conda_lock_file(lock, path, metadata_choices=None)
    return path
