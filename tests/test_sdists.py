"""Source distributions where no wheel exists: read statically, locked with their hash, built.

Unit tests build tiny sdists in memory with the stdlib tarfile/zipfile modules and serve them
from a 127.0.0.1 index; integration tests use the real index (gast 0.2.2, wrapt 1.12.1,
termcolor 1.1.0 exist only as sdists, and TensorFlow 1.15, 2.0 and 2.6 pin them).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import SHARED_MODELS
from localindex import make_wheel, serve
from packaging.requirements import Requirement

from kresolve.artifact.facts import ModelFacts, ModelFormat
from kresolve.artifact.limits import MAX_SDIST_UNPACKED_BYTES
from kresolve.errors import Unsolvable
from kresolve.index import Cache, Index, IndexConfig, read_pip_config
from kresolve.index.config import Format, FormatControl
from kresolve.index.sdist import DepsSource, SdistError, _Bounded, parse_requires_txt, read_sdist
from kresolve.lock import requirements_txt
from kresolve.report import environment_json
from kresolve.rules.db import load_rules
from kresolve.rules.plan import plans_for
from kresolve.smoke.envs import EnvBuildError, build_env
from kresolve.solve.resolve import solve
from kresolve.target import make_target

DISTUTILS_SETUP = b"from distutils.core import setup\nsetup(name='x', version='1', py_modules=['x'])\n"


def sdist_bytes(name: str, version: str, members: dict[str, bytes], fmt: str = "tar.gz") -> bytes:
    """An sdist archive: every member under `name-version/`, as setuptools and distutils write them."""
    root = f"{name}-{version}"
    buf = io.BytesIO()
    if fmt == "zip":
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path, data in members.items():
                zf.writestr(f"{root}/{path}", data)
        return buf.getvalue()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, data in members.items():
            info = tarfile.TarInfo(f"{root}/{path}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def pkg_info(name: str, version: str, metadata_version: str = "1.1", *extra: str) -> bytes:
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}", *extra]
    return ("\n".join(lines) + "\n").encode()


BACKEND = b'''"""An in-tree PEP 517 backend needing nothing from any index: builds an empty wheel."""
import base64, hashlib, os, zipfile

NAME, VERSION, FAIL = {name!r}, {version!r}, {fail!r}


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if FAIL:
        raise SystemExit("cc: error: this extension cannot be compiled here (kresolve test)")
    dist = f"{{NAME}}-{{VERSION}}.dist-info"
    files = {{f"{{dist}}/METADATA": f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n".encode(),
             f"{{dist}}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
             f"{{NAME}}_built.py": b"BUILT = True\\n"}}
    record = [f"{{p}},sha256={{base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b'=').decode()}},{{len(d)}}"
              for p, d in files.items()] + [f"{{dist}}/RECORD,,"]
    files[f"{{dist}}/RECORD"] = ("\\n".join(record) + "\\n").encode()
    name = f"{{NAME}}-{{VERSION}}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return name
'''


def backend_sdist(name: str, version: str, fail: bool = False) -> dict[str, bytes]:
    """A buildable sdist (static Metadata 2.2) whose build needs no index: for pip and uv offline."""
    return {
        "PKG-INFO": pkg_info(name, version, "2.2"),
        "pyproject.toml": b'[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n',
        "backend.py": BACKEND.decode().format(name=name, version=version, fail=fail).encode(),
    }


def setup_py_sdist(name: str, version: str, *pkg_info_lines: str, metadata_version: str = "1.1") -> dict[str, bytes]:
    """A distutils-era sdist with a setup.py that declares nothing (like wrapt 1.12.1)."""
    return {"PKG-INFO": pkg_info(name, version, metadata_version, *pkg_info_lines), "setup.py": DISTUTILS_SETUP}


# -- the static reader --------------------------------------------------------------------------
def test_metadata_2_2_pkg_info_is_trusted_unless_dynamic():
    members = {"PKG-INFO": pkg_info("demo", "1.0", "2.2", "Requires-Python: >=3.8", "Requires-Dist: six>=1.10",
                                    "Provides-Extra: fast", "Requires-Dist: ujson; extra == 'fast'")}
    meta = read_sdist("demo-1.0.tar.gz", sdist_bytes("demo", "1.0", members), "demo", "1.0")
    assert meta.unknown is None and meta.source is DepsSource.PKG_INFO
    assert meta.requires_python == ">=3.8"
    assert meta.requires_dist == ("six>=1.10", "ujson; extra == 'fast'")
    assert meta.provides_extra == ("fast",)


def test_requires_txt_sections_become_markers():
    reqs, extras = parse_requires_txt('six\nnumpy>=1.16\n\n[:python_version < "3.8"]\ntyping-extensions\n\n'
                                      '[Tests]\npytest\n\n[gpu:sys_platform == "linux"]\ncupy\n')
    assert extras == ("tests", "gpu")
    parsed = {Requirement(r).name: Requirement(r) for r in reqs}
    assert parsed["six"].marker is None and str(parsed["numpy"].specifier) == ">=1.16"
    py37 = {"python_version": "3.7", "sys_platform": "linux", "extra": ""}
    assert parsed["typing-extensions"].marker.evaluate(py37)
    assert not parsed["typing-extensions"].marker.evaluate({**py37, "python_version": "3.11"})
    assert parsed["pytest"].marker.evaluate({**py37, "extra": "tests"}) and not parsed["pytest"].marker.evaluate(py37)
    assert parsed["cupy"].marker.evaluate({**py37, "extra": "gpu"})
    assert not parsed["cupy"].marker.evaluate({**py37, "extra": "gpu", "sys_platform": "win32"})


def test_dynamic_requires_dist_falls_back_to_setuptools_egg_info():
    members = {
        "PKG-INFO": pkg_info("demo", "2.0", "2.2", "Dynamic: Requires-Dist", "Requires-Python: >=3.7"),
        "setup.py": b"from setuptools import setup\nsetup(install_requires=compute())\n",
        "src/demo.egg-info/PKG-INFO": pkg_info("demo", "2.0", "2.2", "Requires-Python: >=3.7"),
        "src/demo.egg-info/requires.txt": b"six\n\n[yaml]\npyyaml\n",
    }
    meta = read_sdist("demo-2.0.tar.gz", sdist_bytes("demo", "2.0", members), "demo", "2.0")
    assert meta.source is DepsSource.EGG_INFO and meta.unknown is None
    assert meta.requires_dist == ("six", 'pyyaml ; extra == "yaml"') and meta.provides_extra == ("yaml",)
    assert meta.requires_python == ">=3.7"


def test_an_egg_info_without_requires_txt_means_no_dependencies():
    """gast 0.2.2's shape: setuptools wrote an egg-info and no requires.txt (no install_requires)."""
    members = {"PKG-INFO": pkg_info("demo", "0.2", "1.2", "Requires-Python: >=2.7, !=3.0.*"),
               "setup.py": b"from setuptools import setup\nsetup(tests_require=['x'])\n",
               "demo.egg-info/PKG-INFO": pkg_info("demo", "0.2", "1.2")}
    meta = read_sdist("demo-0.2.tar.gz", sdist_bytes("demo", "0.2", members), "demo", "0.2")
    assert meta.source is DepsSource.EGG_INFO and meta.requires_dist == () and meta.requires_python == ">=2.7, !=3.0.*"


def test_a_distutils_setup_py_that_names_no_requirements_has_none():
    """wrapt 1.12.1 and termcolor 1.1.0: PKG-INFO 1.x, no egg-info, setup.py from distutils."""
    members = setup_py_sdist("demo", "1.1") | {"demo.py": b"VERSION = (1, 1)\n"}
    meta = read_sdist("demo-1.1.tar.gz", sdist_bytes("demo", "1.1", members), "demo", "1.1")
    assert meta.unknown is None and meta.source is DepsSource.SETUP_PY_DECLARES_NONE and meta.requires_dist == ()


@pytest.mark.parametrize("where", ["setup.py", "setup.cfg", "helpers.py"])
def test_requirements_only_running_setup_py_would_tell_are_refused(where):
    members = setup_py_sdist("demo", "1.0")
    members[where] = members.get(where, b"") + b"\nkw = {'install_requires': ['six']}\n"
    meta = read_sdist("demo-1.0.tar.gz", sdist_bytes("demo", "1.0", members), "demo", "1.0")
    assert meta.source is None
    assert "only known by running its setup.py" in meta.unknown and "does not run code at lock time" in meta.unknown


def test_pyproject_project_table_is_static_unless_dynamic():
    pyproject = (b'[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
                 b'[project]\nname = "demo"\nversion = "3.0"\nrequires-python = ">=3.9"\n'
                 b'dependencies = ["attrs>=20"]\n[project.optional-dependencies]\ncli = ["click"]\n')
    members = {"PKG-INFO": pkg_info("demo", "3.0", "2.1"), "pyproject.toml": pyproject}
    meta = read_sdist("demo-3.0.tar.gz", sdist_bytes("demo", "3.0", members), "demo", "3.0")
    assert meta.source is DepsSource.PYPROJECT and meta.requires_python == ">=3.9"
    assert meta.requires_dist == ("attrs>=20", 'click ; extra == "cli"')
    dynamic = pyproject.replace(b'dependencies = ["attrs>=20"]', b'dynamic = ["dependencies"]')
    meta = read_sdist("demo-3.0.tar.gz", sdist_bytes("demo", "3.0", members | {"pyproject.toml": dynamic}), "demo", "3.0")
    assert "running its build backend (hatchling.build)" in meta.unknown


def test_zip_sdists_are_read_too():
    members = {"PKG-INFO": pkg_info("demo", "1.0", "2.2", "Requires-Dist: six")}
    meta = read_sdist("demo-1.0.zip", sdist_bytes("demo", "1.0", members, fmt="zip"), "demo", "1.0")
    assert meta.requires_dist == ("six",)


def test_an_sdist_without_pkg_info_or_for_another_project_is_refused():
    meta = read_sdist("demo-1.0.tar.gz", sdist_bytes("demo", "1.0", {"setup.py": DISTUTILS_SETUP}), "demo", "1.0")
    assert "has no PKG-INFO" in meta.unknown
    meta = read_sdist("demo-1.0.tar.gz", sdist_bytes("demo", "1.0", setup_py_sdist("other", "1.0")), "demo", "1.0")
    assert "names another project" in meta.unknown


# -- hostile archives: refused with the reason, never extracted, never a traceback ---------------
def _tar(*infos: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in infos:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def _member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def test_a_member_claiming_a_huge_size_is_refused_before_reading_it():
    huge = tarfile.TarInfo("demo-1.0/data.bin")
    huge.size = MAX_SDIST_UNPACKED_BYTES + 1
    # Only the header: the archive claims a member far larger than the whole file.
    info, text = _member("demo-1.0/PKG-INFO", pkg_info("demo", "1.0"))
    data = gzip.compress(info.tobuf() + text.ljust(512, b"\0") + huge.tobuf() + b"\0" * 1024)
    meta = read_sdist("demo-1.0.tar.gz", data, "demo", "1.0")
    assert meta.unknown and "unpacks to more than" in meta.unknown and "data.bin" in meta.unknown


def test_the_decompressed_stream_stops_at_the_unpacked_cap():
    """Also what bounds tar headers themselves (a pax header may claim gigabytes)."""
    bounded = _Bounded(io.BytesIO(b"\0" * 4096), limit=1000)
    with pytest.raises(SdistError, match="unpacks to more than"):
        bounded.read(4096)
    assert _Bounded(io.BytesIO(b"\0" * 999), limit=1000).read(4096) == b"\0" * 999


@pytest.mark.parametrize("infos, words", [
    ([_member("demo-1.0/PKG-INFO", kind=tarfile.SYMTYPE, link="../../../etc/passwd")], "links outside the archive"),
    ([_member("demo-1.0/PKG-INFO", kind=tarfile.SYMTYPE, link="README")], "is a link"),
    ([_member("demo-1.0/PKG-INFO", kind=tarfile.LNKTYPE, link="demo-1.0/README")], "is a link"),
    ([_member("demo-1.0/../../evil.py", b"x")], "unsafe path"),
    ([_member("/etc/cron.d/evil", b"x")], "unsafe path"),
    ([_member("demo-1.0/PKG-INFO", b"Name: demo\n"), _member("other-1.0/x", b"")], "one top-level folder"),
])
def test_hostile_tar_members_are_refused(infos, words):
    meta = read_sdist("demo-1.0.tar.gz", _tar(*infos), "demo", "1.0")
    assert meta.source is None and words in meta.unknown, meta.unknown


def test_garbage_and_truncated_archives_are_refused():
    good = sdist_bytes("demo", "1.0", setup_py_sdist("demo", "1.0"))
    for data in (b"not an archive at all", good[: len(good) // 2], b""):
        meta = read_sdist("demo-1.0.tar.gz", data, "demo", "1.0")
        assert meta.unknown and "refused" in meta.unknown
    assert "refused" in read_sdist("demo-1.0.zip", b"PK\x03\x04junk", "demo", "1.0").unknown


def test_format_control_follows_pip():
    assert FormatControl().allowed("wrapt") == {Format.BINARY, Format.SOURCE}
    wheels_only = FormatControl().with_options(only_binary=(":all:",))
    assert wheels_only.allowed("wrapt") == {Format.BINARY}
    # A named package beats :all:, whichever option came first (pip: "wheels except wrapt").
    mixed = FormatControl().with_options(only_binary=(":all:",), no_binary=("Wrapt",))
    assert mixed.allowed("wrapt") == {Format.SOURCE} and mixed.allowed("six") == {Format.BINARY}
    assert FormatControl().with_options(no_binary=(":all:",), only_binary=("numpy,six",)).allowed("six") == {Format.BINARY}
    assert wheels_only.with_options(only_binary=(":none:",)).allowed("x") == {Format.BINARY, Format.SOURCE}
    with pytest.raises(ValueError, match="wrapt"):
        FormatControl().with_options(only_binary=("wrapt",), no_binary=("wrapt",))


# -- solving and locking against a 127.0.0.1 index -----------------------------------------------
ROUTE = """
[[route]]
id = "route-h5-keras2-tf.keras"
format = "keras-h5"
writer_keras = ">=2.0,<3"
rank = 10
loader = "tf.keras"
requires = [{requires}]
reason = "test route"
source = "test:tests/test_sdists.py"
"""


class LocalIndex:
    """Wheels and sdists in `root/files`, a PEP 503 page per project, served on 127.0.0.1."""

    def __init__(self, root: Path):
        self.root, self.files = root, root / "files"
        self.files.mkdir(parents=True, exist_ok=True)
        self.url, self.faults, self._server = serve(root)

    def sdist(self, name: str, version: str, members: dict[str, bytes], fmt: str = "tar.gz") -> Path:
        path = self.files / f"{name}-{version}.{fmt}"
        path.write_bytes(sdist_bytes(name, version, members, fmt))
        return path

    def publish(self) -> IndexConfig:
        projects: dict[str, list[Path]] = {}
        for f in sorted(self.files.iterdir()):
            project = f.name.split("-")[0].replace("_", "-").lower()
            projects.setdefault(project, []).append(f)
        for project, files in projects.items():
            page = self.root / "simple" / project
            page.mkdir(parents=True, exist_ok=True)
            links = [f'<a href="../../files/{f.name}#sha256={hashlib.sha256(f.read_bytes()).hexdigest()}">{f.name}</a>'
                     for f in files]
            (page / "index.html").write_text("<html><body>\n" + "\n".join(links) + "\n</body></html>\n")
        return IndexConfig(f"{self.url}/simple")

    def close(self) -> None:
        self._server.shutdown()


@pytest.fixture
def local(tmp_path):
    index = LocalIndex(tmp_path / "repo")
    yield index
    index.close()


def _solve(tmp_path, config: IndexConfig, cache: Cache, requires: str, python: str = "3.8", stats: dict | None = None):
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir(exist_ok=True)
    (rules_dir / "route.toml").write_text(ROUTE.format(requires=requires))
    rules = load_rules(rules_dir)
    facts = ModelFacts(path="m.h5", format=ModelFormat.H5, format_detail="", keras_version="2.6.0")
    index = Index(config, cache)
    try:
        return solve(plans_for(facts, rules)[:1], make_target(python, "linux-64"), index, rules)
    finally:
        index.close()
        if stats is not None:
            stats.update(index.stats)


def _tf26_era(local: LocalIndex) -> None:
    """TensorFlow 2.6's shape: wrapt~=1.12.1 exists only as an sdist; termcolor has both."""
    make_wheel(local.files, "tensorflow", "2.6.0", requires=["wrapt~=1.12.1", "termcolor>=1.1", "gast==0.4.0"])
    local.sdist("wrapt", "1.12.1", setup_py_sdist("wrapt", "1.12.1"))
    make_wheel(local.files, "wrapt", "1.13.0")
    local.sdist("termcolor", "1.1.0", setup_py_sdist("termcolor", "1.1.0"))
    make_wheel(local.files, "termcolor", "2.0.0")
    # gast 0.4.0 has a wheel and an sdist: the wheel wins.
    make_wheel(local.files, "gast", "0.4.0")
    local.sdist("gast", "0.4.0", setup_py_sdist("gast", "0.4.0"))
    # An sdist whose requirements egg-info states: they are followed.
    local.sdist("six", "1.15.0", {"PKG-INFO": pkg_info("six", "1.15.0", "1.2"),
                                  "six.egg-info/requires.txt": b"[:python_version < '3']\nfuture\n"})


def test_an_sdist_only_release_is_locked_with_its_hash_when_no_wheel_exists(tmp_path, local, cache):
    _tf26_era(local)
    config = local.publish()
    env = _solve(tmp_path, config, cache, '"tensorflow==2.6.0"')
    pins = {p.name: p for p in env.pins}
    assert (pins["wrapt"].version, pins["wrapt"].from_source) == ("1.12.1", True)
    assert [f.filename for f in pins["wrapt"].files] == ["wrapt-1.12.1.tar.gz"]
    # Wheels win: a newer wheel over an older sdist, and a version's wheel over its own sdist.
    assert (pins["termcolor"].version, pins["termcolor"].from_source) == ("2.0.0", False)
    assert [f.filename for f in pins["gast"].files] == ["gast-0.4.0-py3-none-any.whl"]
    text = requirements_txt.render(env, "m.h5", "kresolve lock m.h5", "0")
    sha = hashlib.sha256((local.files / "wrapt-1.12.1.tar.gz").read_bytes()).hexdigest()
    assert f"wrapt==1.12.1 \\\n    --hash=sha256:{sha}\n    # via tensorflow\n{requirements_txt.FROM_SOURCE_NOTE}\n" in text
    header = text.split("\n\n")[0].splitlines()
    assert header[-2:] == ["--only-binary :all:", "--no-binary wrapt"]
    report = {p["name"]: p for p in environment_json(env)["pins"]}
    assert report["wrapt"]["from_source"] is True and report["tensorflow"]["from_source"] is False
    assert [p.name for p in requirements_txt.locked_pins(text) if p.from_source] == ["wrapt"]


def test_sdist_metadata_is_fetched_once_and_cached_by_hash(tmp_path, local, cache):
    _tf26_era(local)
    config = local.publish()
    first: dict = {}
    _solve(tmp_path, config, cache, '"tensorflow==2.6.0"', stats=first)
    assert first["sdists_downloaded"] == 1  # wrapt's: termcolor's and gast's sdists are never tried
    sha = hashlib.sha256((local.files / "wrapt-1.12.1.tar.gz").read_bytes()).hexdigest()
    assert b"Kresolve-Dependencies-From: SETUP_PY_DECLARES_NONE" in cache.get_metadata(f"{sha}.sdist1")
    again: dict = {}
    _solve(tmp_path, config, cache, '"tensorflow==2.6.0"', stats=again)  # a new Index, the same disk cache
    assert again.get("sdists_downloaded", 0) == 0


def test_only_binary_all_keeps_wheels_only(tmp_path, local, cache):
    _tf26_era(local)
    config = local.publish().with_formats(only_binary=(":all:",))
    with pytest.raises(Unsolvable) as exc:
        _solve(tmp_path, config, cache, '"tensorflow==2.6.0"')
    assert "wrapt 1.12.1: only a source distribution, and --only-binary forbids building it" in str(exc.value)
    # Per package: only wrapt is forbidden its sdist; termcolor's own is still allowed.
    env = _solve(tmp_path, local.publish().with_formats(only_binary=("termcolor",)), cache, '"tensorflow==2.6.0"')
    assert {p.name for p in env.pins if p.from_source} == {"wrapt"}


def test_no_binary_locks_the_sdist_even_where_a_wheel_exists(tmp_path, local, cache):
    _tf26_era(local)
    env = _solve(tmp_path, local.publish().with_formats(no_binary=("gast",)), cache, '"tensorflow==2.6.0"')
    gast = next(p for p in env.pins if p.name == "gast")
    assert gast.from_source and [f.filename for f in gast.files] == ["gast-0.4.0.tar.gz"]


def test_egg_info_requirements_of_an_sdist_are_followed(tmp_path, local, cache):
    _tf26_era(local)
    make_wheel(local.files, "future", "1.0.0")
    config = local.publish()
    env = _solve(tmp_path, config, cache, '"six==1.15.0"')
    assert {p.name for p in env.pins} == {"six"}  # `future` only below Python 3
    assert next(p for p in env.pins if p.name == "six").from_source


def test_an_sdist_whose_dependencies_are_unknowable_is_not_used(tmp_path, local, cache):
    """Refused with the reason, and the solver moves to a version it can read."""
    make_wheel(local.files, "tensorflow", "2.6.0", requires=["wrapt>=1.11,<1.13"])
    opaque = setup_py_sdist("wrapt", "1.12.1")
    opaque["setup.py"] = b"from setuptools import setup\nsetup(install_requires=open('deps').read().split())\n"
    local.sdist("wrapt", "1.12.1", opaque)
    local.sdist("wrapt", "1.11.2", setup_py_sdist("wrapt", "1.11.2"))
    config = local.publish()
    env = _solve(tmp_path, config, cache, '"tensorflow==2.6.0"')
    assert next(p.version for p in env.pins if p.name == "wrapt") == "1.11.2"
    (local.files / "wrapt-1.11.2.tar.gz").unlink()
    with pytest.raises(Unsolvable) as exc:
        _solve(tmp_path, local.publish(), Cache(tmp_path / "cache2"), '"tensorflow==2.6.0"')
    message = str(exc.value)
    assert "wrapt 1.12.1 cannot be used" in message
    assert "only known by running its setup.py" in message and "kresolve does not run code at lock time" in message


def test_pip_accepts_the_lock_with_an_sdist_under_require_hashes(tmp_path, local, cache):
    """pip itself checks every hash (the sdist's too) and reads the --no-binary line."""
    make_wheel(local.files, "tensorflow", "2.6.0", requires=["wrapt~=1.12.1"])
    local.sdist("wrapt", "1.12.1", backend_sdist("wrapt", "1.12.1"))
    env = _solve(tmp_path, local.publish(), cache, '"tensorflow==2.6.0"', python=f"{sys.version_info[0]}.{sys.version_info[1]}")
    lock = tmp_path / "requirements.txt"
    lock.write_text(requirements_txt.render(env, "m.h5", "kresolve lock m.h5", "0"))
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--require-hashes", "--no-deps", "--no-index",
           "--ignore-installed", "--find-links", str(local.files), "-r", str(lock)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "wrapt-1.12.1.tar.gz" in proc.stdout and "Would install tensorflow-2.6.0 wrapt-1.12.1" in proc.stdout
    tampered = lock.read_text().replace(hashlib.sha256((local.files / "wrapt-1.12.1.tar.gz").read_bytes()).hexdigest(), "0" * 64)
    lock.write_text(tampered)
    assert subprocess.run(cmd, capture_output=True, text=True, check=False).returncode != 0


HOST_PYTHON = f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_the_smoke_env_builds_a_locked_sdist_in_isolation(tmp_path, local, cache):
    """uv here; the pip fallback builds a real sdist in the integration test below."""
    local.sdist("demo", "1.0", backend_sdist("demo", "1.0"))
    config = local.publish()
    env = _solve(tmp_path, config, cache, '"demo==1.0"', python=HOST_PYTHON)
    lock = tmp_path / "requirements.txt"
    lock.write_text(requirements_txt.render(env, "m.h5", "kresolve lock m.h5", "0"))
    built = build_env(lock, tmp_path / "envs", config)
    assert not built.reused
    proc = subprocess.run([str(built.python), "-c", "import demo_built; print(demo_built.BUILT)"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "True", proc.stderr
    assert not list(built.path.glob(".kresolve-build-*"))  # the per-sdist requirement files are gone
    assert build_env(lock, tmp_path / "envs", config).reused


def test_an_sdist_that_fails_to_build_is_a_clear_failure_naming_it(tmp_path, local, cache):
    local.sdist("demo", "1.0", backend_sdist("demo", "1.0", fail=True))
    config = local.publish()
    env = _solve(tmp_path, config, cache, '"demo==1.0"', python=HOST_PYTHON)
    lock = tmp_path / "requirements.txt"
    lock.write_text(requirements_txt.render(env, "m.h5", "kresolve lock m.h5", "0"))
    with pytest.raises(EnvBuildError, match=r"^building demo 1\.0 from its source distribution failed") as exc:
        build_env(lock, tmp_path / "envs", config)
    assert "(log: " in str(exc.value)


# -- the real index ---------------------------------------------------------------------------------
needs_shared = pytest.mark.skipif(not SHARED_MODELS.is_dir(), reason=f"shared models not found at {SHARED_MODELS}")


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory):
    return Cache(tmp_path_factory.mktemp("cache"))


def _real_file(name: str, filename: str, cache: Cache):
    index = Index(read_pip_config(), cache)  # the configured index, with pip.conf's CA bundle
    try:
        dist = next(f for f in index.files(name) if f.filename == filename)
        return dist, index.metadata(dist)
    finally:
        index.close()


@pytest.mark.integration
@pytest.mark.parametrize("name, filename, source, requires_python", [
    ("gast", "gast-0.2.2.tar.gz", "EGG_INFO", ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*"),
    ("wrapt", "wrapt-1.12.1.tar.gz", "SETUP_PY_DECLARES_NONE", None),
    ("termcolor", "termcolor-1.1.0.tar.gz", "SETUP_PY_DECLARES_NONE", None),
])
def test_the_sdists_tensorflow_pins_are_statically_readable(name, filename, source, requires_python, real_cache):
    dist, meta = _real_file(name, filename, real_cache)
    assert meta.unknown_dependencies is None and meta.requires_dist == ()
    assert meta.requires_python == requires_python
    data = real_cache.get_metadata(f"{dist.sha256}.sdist1").decode()
    assert f"Kresolve-Dependencies-From: {source}" in data


@pytest.mark.integration
@needs_shared
def test_tensorflow_2_6_locks_for_python_3_8_with_wrapt_from_source(tmp_path, real_cache):
    from kresolve import api

    model = SHARED_MODELS / "tfkeras26-bangkit-h5" / "model.h5"
    result = api.lock(model, python="3.8", platform="linux-64", out_dir=tmp_path / "src", smoke=False, cache=real_cache)
    pins = {p.name: p for p in result.environment.pins}
    assert pins["tensorflow"].version.startswith("2.6."), pins["tensorflow"].version
    wrapt_sdist, _ = _real_file("wrapt", "wrapt-1.12.1.tar.gz", real_cache)
    assert pins["wrapt"].version == "1.12.1" and pins["wrapt"].from_source
    assert pins["termcolor"].version == "1.1.0" and pins["termcolor"].from_source
    lock = tmp_path / "src" / "requirements.txt"
    text = lock.read_text()
    assert f"wrapt==1.12.1 \\\n    --hash=sha256:{wrapt_sdist.sha256}\n" in text and "--no-binary wrapt\n" in text
    report = json.loads((tmp_path / "src" / "kresolve-report.json").read_text())
    assert {p["name"] for p in report["environment"]["pins"] if p["from_source"]} >= {"wrapt", "termcolor"}
    # pip's own check of the sdist pins, for the target Python: their hashes against the index, the
    # lock's --no-binary lines, metadata built in pip's isolated build env. (The wheel pins are the
    # writer's usual ones, checked in test_integration_lock.py; TF 2.6 is not downloaded again here.)
    header = [line for line in text.split("\n\n")[0].splitlines() if line.startswith("--")]
    sources = [pin.text for pin in requirements_txt.locked_pins(text) if pin.from_source]
    assert len(sources) >= 2
    subset = tmp_path / "sources.txt"
    subset.write_text("\n".join(header + sources) + "\n")
    platforms = [a for tag in result.environment.target.platform_tags() for a in ("--platform", tag)]
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--require-hashes", "--no-deps", "--ignore-installed",
         "--python-version", "3.8", *platforms, "--target", str(tmp_path / "t"), "-r", str(subset)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "wrapt-1.12.1" in proc.stdout and "termcolor-1.1.0" in proc.stdout
    # --only-binary :all: keeps the wheels-only behaviour: no sdist, so not TensorFlow 2.6.
    wheels = api.lock(model, python="3.8", platform="linux-64", out_dir=tmp_path / "bin", smoke=False,
                      cache=real_cache, only_binary=(":all:",))
    assert not any(p.from_source for p in wheels.environment.pins)
    assert not next(p for p in wheels.environment.pins if p.name == "tensorflow").version.startswith("2.6.")
    assert "--no-binary" not in (tmp_path / "bin" / "requirements.txt").read_text()


@pytest.mark.integration
@needs_shared
@pytest.mark.parametrize("tensorflow", ["1.15", "2.0"])
def test_tensorflow_1_15_and_2_0_lock_for_python_3_7_with_gast_0_2_2_from_source(tensorflow, tmp_path, real_cache):
    """Both pin gast==0.2.2, which exists only as an sdist (a TF 1.14 SavedModel, either route)."""
    from kresolve import api

    model = SHARED_MODELS / "tf114-estimator-savedmodel-sharded"
    want = (f"tensorflow=={tensorflow}.*",)
    result = api.lock(model, python="3.7", platform="linux-64", out_dir=tmp_path, smoke=False, cache=real_cache,
                      requirements=want)
    pins = {p.name: p for p in result.environment.pins}
    assert pins["tensorflow"].version.startswith(f"{tensorflow}."), pins["tensorflow"].version
    assert (pins["gast"].version, pins["gast"].from_source) == ("0.2.2", True)
    gast, _ = _real_file("gast", "gast-0.2.2.tar.gz", real_cache)
    text = (tmp_path / "requirements.txt").read_text()
    assert f"gast==0.2.2 \\\n    --hash=sha256:{gast.sha256}\n" in text and "--no-binary gast\n" in text
    with pytest.raises(Unsolvable, match="gast 0.2.2: only a source distribution, and --only-binary forbids"):
        api.lock(model, python="3.7", platform="linux-64", out_dir=tmp_path / "bin", smoke=False, cache=real_cache,
                 requirements=want, only_binary=(":all:",))


@pytest.mark.integration
@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_a_pure_python_sdist_is_built_in_the_smoke_env(tmp_path, real_cache, installer, monkeypatch):
    """termcolor 1.1.0 (sdist only) locked from the real index, then built by build_env."""
    monkeypatch.setenv("KRESOLVE_INSTALLER", installer)
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    env = _solve(tmp_path, read_pip_config(), real_cache, '"termcolor==1.1.0"', python=python)
    assert [(p.name, p.from_source) for p in env.pins] == [("termcolor", True)]
    lock = tmp_path / "requirements.txt"
    lock.write_text(requirements_txt.render(env, "m.h5", "kresolve lock m.h5", "0"))
    built = build_env(lock, tmp_path / "envs", read_pip_config())
    assert built.installer == installer
    proc = subprocess.run([str(built.python), "-c", "import termcolor; print(termcolor.VERSION)"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "(1, 1, 0)", proc.stderr


@pytest.mark.integration
def test_a_compiled_sdist_that_cannot_build_fails_naming_the_package(tmp_path, local, real_cache):
    """Its C source does not compile: the build fails, and the error says which package."""
    members = {
        "PKG-INFO": pkg_info("brokenext", "1.0"),
        "setup.py": b"from setuptools import setup, Extension\n"
                    b"setup(name='brokenext', version='1.0', ext_modules=[Extension('brokenext', ['brokenext.c'])])\n",
        "brokenext.c": b"#error this extension cannot be built (kresolve test)\n",
    }
    local.sdist("brokenext", "1.0", members)
    config = local.publish()
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    env = _solve(tmp_path, config, real_cache, '"brokenext==1.0"', python=python)
    lock = tmp_path / "requirements.txt"
    lock.write_text(requirements_txt.render(env, "m.h5", "kresolve lock m.h5", "0"))
    # setuptools for the isolated build comes from the real index, brokenext from the local one.
    real = read_pip_config()
    both = IndexConfig(real.index_url, (*real.extra_index_urls, config.index_url), real.cert)
    with pytest.raises(EnvBuildError, match=r"^building brokenext 1\.0 from its source distribution failed"):
        build_env(lock, tmp_path / "envs", both)


def test_kresolve_imports_where_posix_only_modules_do_not_exist():
    """Windows has no fcntl/resource/termios: the env lock is filelock's, and nothing imports them eagerly."""
    code = ("import sys\nfor m in ('fcntl', 'resource', 'termios'):\n    sys.modules[m] = None\n"
            "import kresolve.api, kresolve.cli, kresolve.smoke.envs\nprint('imported')")
    proc = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "imported", proc.stderr[-2000:]


def test_pip_configuration_only_binary_is_honoured():
    env = {"PIP_CONFIG_FILE": os.devnull, "PIP_ONLY_BINARY": ":all:", "PIP_NO_BINARY": "wrapt"}
    formats = read_pip_config(env).formats
    assert formats.allowed("numpy") == {Format.BINARY} and formats.allowed("wrapt") == {Format.SOURCE}


def test_conflicting_format_options_are_one_line_of_bad_input(capsys):
    from conftest import FIXTURES

    from kresolve.cli import main

    model = FIXTURES / "tf215-h5" / "model.h5"
    code = main(["lock", str(model), "--no-smoke", "--offline", "--only-binary", "wrapt", "--no-binary", "wrapt"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "wrapt named by both --only-binary and --no-binary" in err[0]
