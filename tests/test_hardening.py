"""Hostile inputs, end to end: model code that must never run, symbolic links that lead out of a
model directory, attributes sized to exhaust memory, zip bombs and path-traversal member names.

Each case proves a property DESIGN.md promises ("Bad input, errors, safety"): a clear one-line
BadInput or plain facts, nothing executed, nothing written, nothing read from outside the model.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from conftest import FIXTURES

from kresolve.artifact import BadInput, inspect

MALICIOUS = FIXTURES / "tf215-malicious-lambda-h5"
MARKER_ENV = "KRESOLVE_PWNED_MARKER"
DEFAULT_MARKER = Path("/tmp/kresolve-pwned-marker")
MiB = 1024 * 1024


def refused(path: Path, *fragments: str, names: object = None) -> str:
    with pytest.raises(BadInput) as err:
        inspect(path)
    message = str(err.value)
    assert str(names if names is not None else path) in message, message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def tree(root: Path) -> dict[str, tuple]:
    """Everything under `root` (links not followed): relative path -> (kind, size, mtime)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            info = path.lstat()
            out[str(path.relative_to(root))] = (info.st_mode >> 12, info.st_size, info.st_mtime_ns)
    return out


def _marker_stamp() -> int | None:
    return DEFAULT_MARKER.stat().st_mtime_ns if DEFAULT_MARKER.exists() else None


@pytest.fixture
def marker(tmp_path, monkeypatch):
    """A marker path the malicious Lambda would write to; the HDF5 worker is restarted so that it,
    too, sees the variable. Yields the path; afterwards neither it nor the default marker may
    have been written."""
    from kresolve.artifact import h5worker

    path = tmp_path / "pwned-marker"
    monkeypatch.setenv(MARKER_ENV, str(path))
    h5worker._WORKER.stop()
    before = _marker_stamp()
    yield path
    h5worker._WORKER.stop()  # the next test's worker must not inherit this variable
    assert not path.exists(), "the model's Lambda code was executed"
    assert _marker_stamp() == before, f"the model's Lambda code was executed ({DEFAULT_MARKER})"


# Malicious Lambda ---------------------------------------------------------------------------------
def _assert_reports_the_lambda(facts) -> None:
    assert [layer.layer_name for layer in facts.lambda_layers] == ["pwn"]
    assert facts.lambda_layers[0].encoding == "marshal"
    assert facts.lambda_layers[0].python_hint == "3.11-3.12"
    assert "Lambda" in facts.layer_classes
    assert any("marshalled Python bytecode" in note for note in facts.notes)


def test_malicious_lambda_fixture_is_reported_not_run(marker):
    facts = inspect(MALICIOUS / "model.h5")
    _assert_reports_the_lambda(facts)
    assert facts.sidecar is not None and facts.sidecar.probe is not None


@pytest.mark.parametrize("name", ["model.keras", "saved_model.pb", "weights.bin", "no-extension",
                                  "config.json", "my model (v2).pkl"])
def test_malicious_lambda_under_odd_names(tmp_path, marker, name):
    folder = tmp_path / "copy"
    folder.mkdir()
    shutil.copyfile(MALICIOUS / "model.h5", folder / name)
    _assert_reports_the_lambda(inspect(folder / name))


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the stored bytecode is CPython 3.11's")
def test_marker_is_really_written_when_the_stored_code_runs(tmp_path, monkeypatch):
    # The checks around this one mean something only if the function stored in the fixture does
    # write the marker when it runs. Run it here, deliberately (as a trusting load would).
    import base64
    import marshal
    import types

    import h5py

    with h5py.File(MALICIOUS / "model.h5", "r") as handle:
        config = json.loads(handle.attrs["model_config"])
    (layer,) = [item for item in config["config"]["layers"] if item["class_name"] == "Lambda"]
    code = marshal.loads(base64.b64decode(layer["config"]["function"][0]))
    function = types.FunctionType(code, {"__builtins__": __builtins__})
    path = tmp_path / "proof"
    monkeypatch.setenv(MARKER_ENV, str(path))
    assert function(41) == 41
    assert path.read_text() == "kresolve fixture Lambda code was executed\n"


@pytest.mark.integration
def test_lock_without_trust_never_runs_the_lambda(tmp_path, marker):
    from kresolve import api

    out = tmp_path / "out"
    result = api.lock(MALICIOUS / "model.h5", out_dir=out, smoke=True)
    assert result.smoke is not None
    assert result.smoke.status == "skipped", result.smoke
    assert "--trust-model" in result.smoke.reason
    assert result.smoke.env_dir is None  # skipped before any environment was built
    assert (out / "requirements.txt").is_file()
    report = json.loads((out / "kresolve-report.json").read_text())
    assert report["smoke"]["status"] == "skipped"
    assert [layer["layer_name"] for layer in report["facts"]["lambda_layers"]] == ["pwn"]


# Symbolic links out of a model directory ------------------------------------------------------------
needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt",
                                    reason="needs POSIX symbolic links")
SAVEDMODEL = FIXTURES / "tf215-savedmodel" / "model"
KERAS_ZIP = FIXTURES / "tf215-keras-zip" / "model.keras"


@pytest.fixture
def outside(tmp_path) -> Path:
    """A file outside every model directory of a test (a stand-in for a secret)."""
    secret = tmp_path / "elsewhere" / "secret.pb"
    secret.parent.mkdir()
    secret.write_bytes((SAVEDMODEL / "saved_model.pb").read_bytes())  # even a valid one
    return secret


@pytest.fixture
def savedmodel(tmp_path) -> Path:
    copy = tmp_path / "sm"
    shutil.copytree(SAVEDMODEL, copy)
    return copy


@pytest.fixture
def keras_dir(tmp_path) -> Path:
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(KERAS_ZIP) as archive:
        archive.extractall(folder)
    return folder


def _relink(link: Path, target: Path | str) -> None:
    if link.is_dir() and not link.is_symlink():
        shutil.rmtree(link)
    elif link.exists() or link.is_symlink():
        link.unlink()
    link.symlink_to(target)


@needs_symlinks
@pytest.mark.parametrize("member", ["saved_model.pb", "keras_metadata.pb"])
def test_savedmodel_member_linked_outside_is_refused(savedmodel, outside, member):
    _relink(savedmodel / member, outside)
    message = refused(savedmodel, "symbolic link", "outside the model directory",
                      names=savedmodel / member)
    assert str(outside) in message
    # Naming the .pb file itself does not get round it.
    if member == "saved_model.pb":
        refused(savedmodel / member, "symbolic link", names=savedmodel / member)


@needs_symlinks
def test_savedmodel_pb_linked_to_system_file_is_refused(savedmodel):
    _relink(savedmodel / "saved_model.pb", "/etc/passwd")
    refused(savedmodel, "symbolic link to /etc/passwd", names=savedmodel / "saved_model.pb")


@needs_symlinks
def test_savedmodel_variables_linked_outside_is_refused(savedmodel, tmp_path):
    elsewhere = tmp_path / "other-variables"
    shutil.copytree(savedmodel / "variables", elsewhere)
    _relink(savedmodel / "variables", elsewhere)
    refused(savedmodel, "symbolic link", names=savedmodel / "variables")


@needs_symlinks
def test_savedmodel_variables_shard_linked_outside_is_refused(savedmodel, tmp_path):
    shard = next((savedmodel / "variables").glob("variables.data-*"))
    secret = tmp_path / shard.name
    shutil.copyfile(shard, secret)
    _relink(shard, secret)
    refused(savedmodel, "symbolic link", names=shard)


@needs_symlinks
def test_dangling_and_chained_links_are_judged_by_their_final_target(savedmodel, tmp_path):
    # dangling link pointing outside: refused though nothing is there
    (savedmodel / "fingerprint.pb").unlink(missing_ok=True)
    (savedmodel / "fingerprint.pb").symlink_to(tmp_path / "nothing-here")
    refused(savedmodel, "symbolic link", names=savedmodel / "fingerprint.pb")
    # a link to an inside link that points outside
    (savedmodel / "fingerprint.pb").unlink()
    (savedmodel / "hop").symlink_to(tmp_path / "nothing-here")
    (savedmodel / "fingerprint.pb").symlink_to("hop")
    refused(savedmodel, "symbolic link")


@needs_symlinks
def test_links_inside_the_model_directory_are_fine(savedmodel, tmp_path):
    real = savedmodel / "real"
    real.mkdir()
    (savedmodel / "saved_model.pb").rename(real / "saved_model.pb")
    (savedmodel / "saved_model.pb").symlink_to(Path("real") / "saved_model.pb")
    (savedmodel / "self").symlink_to(".")  # a loop back to the root is not followed
    assert inspect(savedmodel).tensorflow_version == "2.15.1"
    # The path the user passes may itself be a link (to anywhere): they named it.
    alias = tmp_path / "alias"
    alias.symlink_to(savedmodel)
    assert inspect(alias).tensorflow_version == "2.15.1"


@needs_symlinks
@pytest.mark.parametrize("member", ["config.json", "metadata.json", "model.weights.h5"])
def test_unpacked_keras_member_linked_outside_is_refused(keras_dir, tmp_path, member):
    assert inspect(keras_dir).keras_version == "2.15.0"
    secret = tmp_path / "secret" / member
    secret.parent.mkdir()
    shutil.copyfile(keras_dir / member, secret)
    _relink(keras_dir / member, secret)
    refused(keras_dir, "symbolic link", names=keras_dir / member)


@needs_symlinks
def test_unpacked_keras_config_linked_to_system_file(keras_dir):
    _relink(keras_dir / "config.json", "/etc/passwd")
    message = refused(keras_dir, names=keras_dir / "config.json")
    assert "root:" not in message  # nothing of the target's content in the message


@needs_symlinks
def test_sidecar_linked_outside_is_refused(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copyfile(FIXTURES / "tf215-h5" / "model.h5", folder / "model.h5")
    secret = tmp_path / "secret.json"
    shutil.copyfile(FIXTURES / "tf215-h5" / "kresolve.json", secret)
    (folder / "model.h5.kresolve.json").symlink_to(secret)
    refused(folder / "model.h5", "sidecar", "symbolic link", names=folder / "model.h5.kresolve.json")
    (folder / "model.h5.kresolve.json").unlink()
    (folder / "kresolve.json").symlink_to(secret)
    refused(folder / "model.h5", "sidecar", "symbolic link", names=folder / "kresolve.json")


# Huge attributes --------------------------------------------------------------------------------------
_WRITE_BIG_ATTR = r"""
import sys, h5py, numpy as np
path, size, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
text = '{"class_name": "Sequential", "config": {"pad": "' + "x" * (size - 50) + '"}}'
with h5py.File(path, "w", libver="latest") as f:  # dense attribute storage: no 64 KiB cap
    f.attrs["model_config"] = text if kind == "vlen" else np.bytes_(text.encode())
    f.attrs["keras_version"] = "2.15.0"
"""


def _vm_hwm_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@pytest.mark.parametrize("kind", ["vlen", "fixed"])
def test_80_mib_model_config_is_refused_quickly_with_bounded_memory(tmp_path, kind):
    from kresolve.artifact import h5worker

    path = tmp_path / "model.h5"
    # Written in a child process, so this process's own peak stays the one inspect() sets.
    subprocess.run([sys.executable, "-c", _WRITE_BIG_ATTR, str(path), str(80 * MiB), kind], check=True)
    assert path.stat().st_size > 80 * MiB
    h5worker._WORKER.stop()  # a fresh worker: its peak RSS is this file's alone
    self_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    refused(path, "'model_config'", "64 MiB limit")
    elapsed = time.monotonic() - start
    assert elapsed < 10, elapsed
    # This process never holds the attribute: only the worker reads it.
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self_before
    assert grown_kib < 40 * 1024, f"inspect grew this process's peak RSS by {grown_kib} KiB"
    proc = h5worker._WORKER._proc
    assert proc is not None and proc.poll() is None  # refused by the worker, not a crash
    peak = _vm_hwm_kib(proc.pid)
    if peak is None:  # no /proc: take the reaped worker's peak from the children's rusage
        h5worker._WORKER.stop()
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # 80 MiB of text: libhdf5's copy, h5py's, Python's str (measured ~490 MiB for a
    # variable-length string, ~200 MiB fixed-size). Far from a multi-GB allocation.
    assert peak < 800 * 1024, f"HDF5 worker peak RSS {peak} KiB"
    # The worker still serves the next file.
    assert inspect(FIXTURES / "tf215-h5" / "model.h5").keras_version == "2.15.0"


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="the memory cap needs Linux /proc")
def test_worker_memory_cap_turns_a_huge_attribute_into_a_refusal(tmp_path, monkeypatch):
    # The worker caps its address space at start-up size + MEMORY_HEADROOM; with a small
    # headroom a 48 MiB variable-length attribute (under the text limit) no longer fits.
    from kresolve.artifact import h5meta, h5worker

    path = tmp_path / "model.h5"
    subprocess.run([sys.executable, "-c", _WRITE_BIG_ATTR, str(path), str(48 * MiB), "vlen"], check=True)
    source = Path(h5meta.__file__).read_text()
    patched = tmp_path / "h5meta.py"
    patched.write_text(source.replace("MEMORY_HEADROOM = 1024 * 1024 * 1024",
                                      "MEMORY_HEADROOM = 64 * 1024 * 1024"))
    monkeypatch.setattr(h5meta, "__file__", str(patched))
    h5worker._WORKER.stop()
    try:
        message = refused(path)
        assert "memory" in message, message
    finally:
        h5worker._WORKER.stop()
    monkeypatch.undo()
    assert inspect(FIXTURES / "tf215-h5" / "model.h5").keras_version == "2.15.0"


# Zip archives -------------------------------------------------------------------------------------------
def _set_sizes(data: bytearray, member: bytes, file_size: int) -> None:
    """Rewrite the uncompressed size of `member` in its local and central headers."""
    at = data.find(b"PK\x03\x04")
    while at >= 0:
        name_len = struct.unpack_from("<H", data, at + 26)[0]
        if data[at + 30 : at + 30 + name_len] == member:
            struct.pack_into("<I", data, at + 22, file_size)
        at = data.find(b"PK\x03\x04", at + 4)
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + name_len] == member:
            struct.pack_into("<I", data, at + 24, file_size)
        at = data.find(b"PK\x01\x02", at + 4)


@pytest.fixture
def quiet_dir(tmp_path, monkeypatch):
    """tmp_path, with the current directory an empty folder inside it (so a relative write
    would land there and show in the listing each test compares before and after)."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def _keras_members(config: bytes) -> dict[str, bytes]:
    return {"metadata.json": b'{"keras_version": "3.4.1", "date_saved": "x"}',
            "config.json": config, "model.weights.h5": b"\x89HDF\r\n\x1a\n"}


GOOD_CONFIG = json.dumps({
    "module": "keras", "class_name": "Sequential", "registered_name": None,
    "config": {"name": "s", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer",
         "config": {"batch_shape": [None, 3], "dtype": "float32", "name": "inp"}, "registered_name": None},
        {"module": "keras.layers", "class_name": "Dense", "config": {"units": 1}, "registered_name": None},
    ]},
}).encode()


def test_zip_member_claiming_4_gib_is_refused_by_its_header(quiet_dir):
    path = quiet_dir / "model.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in _keras_members(GOOD_CONFIG).items():
            archive.writestr(name, data)
    data = bytearray(path.read_bytes())
    _set_sizes(data, b"config.json", 0xFFFFFFF0)  # ~4 GiB claimed, a few hundred bytes stored
    path.write_bytes(bytes(data))
    before = tree(quiet_dir)
    start = time.monotonic()
    refused(path, "config.json", "over the 64 MiB limit")
    assert time.monotonic() - start < 2
    assert tree(quiet_dir) == before


def test_zip_bomb_is_refused_and_a_lying_header_stays_bounded(quiet_dir):
    # 60 MiB of spaces deflate ~1000:1: refused by the ratio before anything is inflated.
    path = quiet_dir / "model.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in _keras_members(b"{" + b" " * (60 * MiB) + b"}").items():
            archive.writestr(name, data)
    before = tree(quiet_dir)
    self_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    refused(path, "zip bomb")
    # The same bytes with a header claiming 1000 bytes pass the ratio check; inflating then
    # stops at the claimed size (and the member is refused), never at 60 MiB.
    data = bytearray(path.read_bytes())
    _set_sizes(data, b"config.json", 1000)
    path.write_bytes(bytes(data))
    before = tree(quiet_dir)
    start = time.monotonic()
    refused(path)
    assert time.monotonic() - start < 2
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self_before
    assert grown_kib < 30 * 1024, grown_kib
    assert tree(quiet_dir) == before


TRAVERSAL = ["../../x", "../outside.txt", "/abs/evil", "..\\..\\win.txt", "a/../../../b"]


def test_zip_with_path_traversal_names_only_errors(quiet_dir):
    path = quiet_dir / "inner" / "model.keras"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as archive:
        for name in TRAVERSAL:
            archive.writestr(name, b"pwned")
    before = tree(quiet_dir)
    message = refused(path, "not a .keras model", "../../x")
    assert "pwned" not in message
    assert tree(quiet_dir) == before
    assert not Path("/abs/evil").exists()


def test_keras_zip_with_extra_traversal_members_is_read_without_extracting(quiet_dir):
    path = quiet_dir / "inner" / "model.keras"
    path.parent.mkdir()
    members = _keras_members(GOOD_CONFIG) | {name: b"pwned" for name in TRAVERSAL}
    members["../config.json"] = b"not the config"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    before = tree(quiet_dir)
    facts = inspect(path)
    assert facts.keras_version == "3.4.1" and facts.layer_classes == ("InputLayer", "Dense")
    assert tree(quiet_dir) == before
