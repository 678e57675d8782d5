"""pip/uv conventions on the command line: exact errors with documented exit codes, pip's index
flags, uv's target names, --json errors, --dry-run, -q, and progress on stderr.

Index faults are real: a local HTTP server on 127.0.0.1 answering 404 or 503, and a closed port.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import FIXTURES
from localindex import make_wheel, serve, write_simple_index

from kresolve import api
from kresolve.errors import BadInput
from kresolve.index import Cache, Index, IndexConfig
from kresolve.index.config import read_pip_config
from kresolve.progress import PlainProgress
from kresolve.rules.db import load_rules
from kresolve.target import make_target

MODEL = FIXTURES / "tf215-h5" / "model.h5"


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kresolve", *args], capture_output=True, text=True, env=env, cwd=cwd, check=False)


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """No pip.conf, no PIP_* variables, a fresh cache: only the command line names indexes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "KRESOLVE_"))}
    return env | {"PIP_CONFIG_FILE": os.devnull, "KRESOLVE_CACHE_DIR": str(tmp_path / "cache")}


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("kresolve: solving")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


class _Status(http.server.BaseHTTPRequestHandler):
    status = 503

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def answering():
    """A server that answers every request with the status the test sets."""
    handler = type("Handler", (_Status,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed when the socket is: nothing listens there


# -- the index: exit 4 naming the URL and what it answered ---------------------------------------

def test_an_index_answering_503_is_exit_4_naming_url_and_status_after_retries(tmp_path, answering):
    handler, url = answering
    handler.status = 503
    proc = run("lock", str(MODEL), "--no-smoke", "-o", str(tmp_path / "out"), "--platform", "linux-64",
               "--python", "3.11", "--index-url", f"{url}/simple", env=isolated_env(tmp_path))
    assert proc.returncode == 4, proc.stderr
    line = one_error_line(proc)
    assert f"{url}/simple" in line and "HTTP 503" in line and "after 3 attempts" in line
    assert not (tmp_path / "out").exists()


def test_a_mistyped_index_url_is_exit_4_not_unsolvable(tmp_path):
    # A real index server, but the URL names a path that is no index: every project page and
    # the root answer 404. That is an index failure, not "no environment satisfies".
    root = tmp_path / "repo"
    make_wheel(root / "files", "numpy", "1.26.4")
    write_simple_index(root)
    url, _faults, server = serve(root)
    try:
        proc = run("lock", str(MODEL), "--no-smoke", "-o", str(tmp_path / "out"), "--platform", "linux-64",
                   "--python", "3.11", "--index-url", f"{url}/simpel", env=isolated_env(tmp_path))
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 4, proc.stderr
    line = one_error_line(proc)
    assert f"{url}/simpel" in line and "HTTP 404" in line and "not a package index" in line


def test_a_project_missing_from_one_index_is_normal(tmp_path, cache):
    # 404 for a project page on an index that does serve pages is "not on this index".
    root = tmp_path / "repo"
    make_wheel(root / "files", "alpha", "1.0")
    write_simple_index(root)
    url, _faults, server = serve(root)
    try:
        index = Index(IndexConfig(f"{url}/simple"), cache, backoff=0)
        assert [f.filename for f in index.files("alpha")] == ["alpha-1.0-py3-none-any.whl"]
        assert index.files("not-here") == []
        index.check_indexes()  # served a page: the index is fine
        index.close()
    finally:
        server.shutdown()
        server.server_close()


def test_an_unreachable_index_is_exit_4_and_json_says_so_on_stdout(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/simple"
    proc = run("lock", str(MODEL), "--no-smoke", "-o", str(tmp_path / "out"), "--platform", "linux-64",
               "--python", "3.11", "--index-url", url, "--json", env=isolated_env(tmp_path))
    assert proc.returncode == 4, proc.stderr
    data = json.loads(proc.stdout)
    assert data["exit_code"] == 4 and data["error"]["kind"] == "index-unavailable"
    assert url in data["error"]["message"] and "ConnectError" in data["error"]["message"]


# -- bad usage: exit 2, one line, before any work ------------------------------------------------

def test_output_that_is_a_file_is_exit_2_before_any_work(tmp_path):
    target = tmp_path / "taken"
    target.write_text("a file")
    # The model does not even exist: -o is checked first, so its complaint is the one shown.
    proc = run("lock", str(tmp_path / "nothing.h5"), "-o", str(target))
    assert proc.returncode == 2
    assert "is a file" in one_error_line(proc) and target.read_text() == "a file"
    proc = run("lock", str(MODEL), "-o", str(target / "sub"))
    assert proc.returncode == 2 and "is a file" in one_error_line(proc)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is a Linux file system nothing can be written into")
def test_output_that_cannot_be_written_is_exit_2(tmp_path):
    proc = run("lock", str(MODEL), "-o", "/proc/kresolve-out")
    assert proc.returncode == 2 and "cannot write" in one_error_line(proc)


@pytest.mark.parametrize("flags,says", [
    (["--python", "3.99"], "3.5 to 3.14"),
    (["--python", "three"], "3.5 to 3.14"),
    (["--platform", "solaris-64"], "ARCH-manylinux_2_MINOR"),
    (["--platform", "x86_64-unknown-linux-musl"], "linux-64"),
    (["--gpu", "--platform", "osx-64"], "GPU builds exist for linux-64, osx-arm64, win-64"),
    (["--glibc", "2.17", "--platform", "win-64"], "only a Linux target"),
    (["--macos", "eleven", "--platform", "osx-arm64"], "MAJOR.MINOR"),
    (["--find-links", "/no/such/wheels"], "no such directory"),
    (["--no-index"], "--find-links"),
    (["--index-url", "pypi.org/simple"], "http"),
])
@pytest.mark.parametrize("command", ["lock", "explain"])
def test_bad_target_and_index_flags_are_exit_2_naming_what_is_supported(tmp_path, command, flags, says):
    proc = run(command, str(MODEL), *flags, *(["-o", str(tmp_path / "out")] if command == "lock" else []),
               env=isolated_env(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert says in one_error_line(proc)
    assert not (tmp_path / "out").exists()


def test_rules_show_and_verify_refuse_what_they_cannot_know():
    proc = run("rules", "show", "tensorflow", "not-a-version")
    assert proc.returncode == 2 and "not a version" in one_error_line(proc)
    proc = run("rules", "verify", "no-such-package-kresolve")
    assert proc.returncode == 2 and "no constraint rule is about" in one_error_line(proc)
    proc = run("rules", "verify", "--rule", "no-such-rule", "--json")
    assert proc.returncode == 2 and json.loads(proc.stdout)["error"]["kind"] == "bad-input"


@pytest.mark.parametrize("args", [
    ["lock", "--json"],  # MODEL missing: argparse's complaint
    ["inspect", "--json", "--no-such-flag", str(MODEL)],
    ["inspect", "--json", "/no/such/model.h5"],
    ["rules", "show", "tensorflow", "x.y", "--json"],
    ["diagnose", "--json"],
])
def test_json_always_answers_json_on_stdout_errors_included(args):
    proc = run(*args)
    assert proc.returncode == 2, proc.stderr
    data = json.loads(proc.stdout)
    if isinstance(data, list):  # inspect of a directory-less missing path reports the refusal per model
        data = data[0]
    assert "Traceback" not in proc.stderr
    if "exit_code" in data:
        assert data["exit_code"] == 2 and data["error"]["kind"] in ("usage", "bad-input") and data["error"]["message"]
    else:
        assert data["error"]


# -- pip's index flags over pip's configuration ------------------------------------------------

def test_index_flags_override_the_configuration_as_pip_does(tmp_path):
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://mirror.example/simple\nextra-index-url = https://extra.example/simple\n"
                    "find-links = /srv/wheels\n")
    config = read_pip_config({"PIP_CONFIG_FILE": str(conf)})
    assert config.urls == ("https://mirror.example/simple", "https://extra.example/simple")
    assert config.find_links == ("/srv/wheels",)
    mine = config.with_options("https://mine.example/simple/", ("https://more.example/simple",), ("./wheels",))
    assert mine.urls == ("https://mine.example/simple", "https://extra.example/simple", "https://more.example/simple")
    assert mine.find_links == ("/srv/wheels", "./wheels")
    offline = mine.with_options(no_index=True)
    assert offline.urls == () and offline.pip_args() == ["--no-index", "--find-links", "/srv/wheels", "--find-links", "./wheels"]
    env = read_pip_config({"PIP_CONFIG_FILE": str(conf), "PIP_INDEX_URL": "https://env.example/simple", "PIP_NO_INDEX": "yes"})
    assert env.index_url == "https://env.example/simple" and env.no_index


def test_find_links_reads_a_directory_and_an_html_page_of_links(tmp_path, cache):
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "alpha", "1.0", requires=["beta"])
    make_wheel(wheels, "beta", "2.0")
    (wheels / "notes.txt").write_text("not a distribution")
    index = Index(IndexConfig(no_index=True, find_links=(str(wheels),)), cache)
    [alpha] = index.files("alpha")
    assert alpha.filename == "alpha-1.0-py3-none-any.whl" and len(alpha.sha256 or "") == 64
    assert index.metadata(alpha).requires_dist == ("beta",)
    index.close()
    # An HTML page of links, served over HTTP, as pip's --find-links URL.
    root = tmp_path / "site"
    make_wheel(root / "files", "gamma", "3.0")
    (root / "links.html").write_text('<a href="files/gamma-3.0-py3-none-any.whl">gamma</a> <a href="files/x.txt">x</a>')
    url, _faults, server = serve(root)
    try:
        index = Index(IndexConfig(no_index=True, find_links=(f"{url}/links.html",)), cache)
        [gamma] = index.files("gamma")
        assert gamma.url == f"{url}/files/gamma-3.0-py3-none-any.whl" and index.files("alpha") == []
        assert index.metadata(gamma).name == "gamma"
        index.close()
    finally:
        server.shutdown()
        server.server_close()


# -- targets: pip's and uv's words ------------------------------------------------------------

def test_a_python_patch_pins_the_full_version_markers():
    target = make_target("3.11.4", "linux-64")
    assert target.python == "3.11" and target.markers()["python_full_version"] == "3.11.4"
    assert target.markers()["implementation_version"] == "3.11.4" and "Python 3.11.4" in target.describe()
    assert make_target("3.11", "linux-64").markers()["python_full_version"] == "3.11.0"


@pytest.mark.parametrize("name,platform,glibc,macos", [
    ("linux", "linux-64", (2, 28), None),
    ("x86_64-manylinux_2_17", "linux-64", (2, 17), None),
    ("aarch64-manylinux2014", "linux-aarch64", (2, 17), None),
    ("x86_64-unknown-linux-gnu", "linux-64", (2, 28), None),
    ("macos", "osx-arm64", None, (13, 0)),
    ("x86_64-apple-darwin", "osx-64", None, (13, 0)),
    ("windows", "win-64", None, None),
    ("osx-arm64", "osx-arm64", None, (12, 0)),
])
def test_uv_platform_names_map_to_conda_platforms_and_floors(name, platform, glibc, macos):
    target = make_target("3.11", name)
    assert (target.platform, target.glibc, target.macos) == (platform, glibc, macos)


def test_explicit_floors_win_and_shape_the_tags():
    linux = make_target("3.11", "x86_64-manylinux_2_28", glibc="2.17")
    assert linux.glibc == (2, 17) and "manylinux_2_17_x86_64" in linux.platform_tags()
    assert "manylinux_2_28_x86_64" not in linux.platform_tags()
    mac = make_target("3.11", "osx-arm64", macos="11.0")
    assert mac.macos == (11, 0) and "macosx_11_0_arm64" in mac.platform_tags()
    with pytest.raises(BadInput):
        make_target("3.11", "linux-64", macos="11.0")


# -- --dry-run, -q, progress ---------------------------------------------------------------------

RULES = """
[[route]]
id = "route-test-h5"
format = "keras-h5"
rank = 10
loader = "tf.keras"
requires = ["tensorflow<2.16"]
reason = "test route"
source = "test:tests/test_cli_conventions.py"
"""


@pytest.fixture
def wheels_world(tmp_path):
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "tensorflow", "2.15.1", requires=["numpy>=1.23"], tag="cp311-cp311-manylinux_2_17_x86_64")
    make_wheel(wheels, "numpy", "1.26.4", tag="cp311-cp311-manylinux_2_17_x86_64")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "test.toml").write_text(RULES)
    return wheels, load_rules(tmp_path / "rules")


def test_dry_run_from_find_links_solves_writes_nothing_and_reports_progress(tmp_path, wheels_world):
    wheels, rules = wheels_world
    out = tmp_path / "out"
    log = io.StringIO()
    result = api.lock(MODEL, python="3.11", platform="linux-64", out_dir=out, rules=rules, dry_run=True,
                      index_config=IndexConfig(no_index=True, find_links=(str(wheels),)),
                      cache=Cache(tmp_path / "cache"), progress=PlainProgress(log))
    assert {p.name: p.version for p in result.environment.pins} == {"tensorflow": "2.15.1", "numpy": "1.26.4"}
    assert result.files == () and result.smoke is None and not out.exists()
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("kresolve: reading the model") and any(line.startswith("kresolve: solving Python 3.11") for line in lines)
    solved = next(line for line in lines if line.startswith("kresolve: solving done in"))
    assert "metadata" in solved  # two wheels' METADATA read


def test_the_api_is_silent_without_a_progress_sink(tmp_path, wheels_world, capfd):
    wheels, rules = wheels_world
    api.lock(MODEL, python="3.11", platform="linux-64", out_dir=tmp_path / "out", rules=rules, dry_run=True,
             index_config=IndexConfig(no_index=True, find_links=(str(wheels),)), cache=Cache(tmp_path / "cache"))
    assert capfd.readouterr() == ("", "")


@pytest.mark.integration
def test_dry_run_and_quiet_on_the_real_index(tmp_path):
    out = tmp_path / "out"
    proc = run("lock", str(MODEL), "--dry-run", "-p", "linux-64", "--python", "3.11", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "Dry run" in proc.stdout and "tensorflow" in proc.stdout and not out.exists()
    assert "kresolve: solving Python 3.11 on linux-64" in proc.stderr  # plain progress: stderr is a pipe
    proc = run("lock", str(MODEL), "--dry-run", "-q", "-p", "linux-64", "--python", "3.11", "-o", str(out))
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == "" and not out.exists()
    proc = run("lock", str(MODEL), "--dry-run", "--json", "-p", "linux-64", "--python", "3.11", "-o", str(out))
    report = json.loads(proc.stdout)
    assert report["lockfiles"] == [] and report["smoke"] is None and not out.exists()
