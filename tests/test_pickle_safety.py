"""Archives that carry pickles are refused, found by opcodes, never by unpickling.

The hostile fixtures in tests/fixtures/malicious/ (built by make_malicious_archives.py from the
real keras3-zip archive) hold a payload that, when unpickled, creates the file MARKER in the
current directory. Every CLI run here happens in a fresh temporary cwd and must leave no MARKER
there; the armed-fixture controls unpickle the same bytes on purpose (in a subprocess) and see
MARKER appear, so "no MARKER" means something.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, TESTS
from hypothesis import given, settings
from hypothesis import strategies as st

from kresolve.artifact import inspect
from kresolve.artifact.pickles import (
    WORDS,
    NotNpy,
    OverBudget,
    ScanBudget,
    UnsafeKind,
    classify,
    read_npy_header,
    scan_pickle,
)
from kresolve.errors import BadInput, UnsafeModel

MALICIOUS = TESTS / "fixtures" / "malicious"
MARKER = "KRESOLVE_PICKLE_RAN"  # what the fixtures' payload creates in its cwd
BASE = FIXTURES / "keras3-zip" / "model.keras"

# fixture -> (kind, member named in the refusal)
CASES = {
    "npz-object-array/model.keras": (UnsafeKind.OBJECT_NPY, "model.weights.npz/layers/dense.npy"),
    "raw-pickle-member/model.keras": (UnsafeKind.RAW_PICKLE, "assets/vocabulary.bin"),
    "duplicate-config/model.keras": (UnsafeKind.DUPLICATE_MEMBER, "config.json"),
    "npz-object-array-dir": (UnsafeKind.OBJECT_NPY, "model.weights.npz/layers/dense.npy"),
}


class Payload:
    def __reduce__(self):
        return (Path.touch, (Path(MARKER),))


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # Refusal must come before any index access: an unreachable index would turn into exit 4.
    env["PIP_INDEX_URL"] = "http://127.0.0.1:9/simple"
    env.pop("PIP_EXTRA_INDEX_URL", None)
    env["PYTHONPATH"] = str(TESTS.parent)
    return subprocess.run([sys.executable, "-m", "kresolve", *args], check=False, capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def keras_with(extra: list[tuple[str, bytes]], compression: int = zipfile.ZIP_STORED) -> bytes:
    """The real keras3-zip archive plus `extra` members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(BASE) as base, zipfile.ZipFile(buffer, "w", compression) as out:
        for info in base.infolist():
            out.writestr(info.filename, base.read(info))
        for name, data in extra:
            out.writestr(name, data)
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npz(compressed: bool = False, **arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize("fixture", sorted(CASES))
@pytest.mark.parametrize("command", ["inspect", "lock", "smoke"])
def test_cli_refuses_with_one_line_exit_2_nothing_written_nothing_run(tmp_path, fixture, command):
    kind, member = CASES[fixture]
    model = MALICIOUS / fixture
    out = tmp_path / "out"
    args = {"inspect": ["inspect", str(model)],
            "lock": ["lock", str(model), "--no-smoke", "-o", str(out)],
            "smoke": ["smoke", str(model), "--lock", str(tmp_path / "requirements.txt")]}[command]
    (tmp_path / "requirements.txt").write_text("# kresolve-loader: keras\nkeras==3.15.1\n")
    before = sorted(p.name for p in tmp_path.iterdir())

    proc = run(*args, cwd=tmp_path)

    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("kresolve: error: ") and str(model) in line and member in line
    if kind is UnsafeKind.DUPLICATE_MEMBER:
        assert "duplicated" in line and "unsafe" in line
    else:
        assert WORDS in line
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no MARKER, no lock, no report


def test_inspect_json_marks_unsafe_files_and_documents_the_keys(tmp_path):
    fleet = tmp_path / "fleet"
    shutil.copytree(MALICIOUS, fleet)
    shutil.copytree(FIXTURES / "keras3-zip", fleet / "honest")
    (fleet / "empty.keras").write_bytes(b"")
    proc = run("inspect", "--json", str(fleet), cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    entries = {Path(entry["path"]).relative_to(fleet).as_posix(): entry for entry in json.loads(proc.stdout)}
    assert set(entries) == {*CASES, "honest/model.keras", "empty.keras"}
    for fixture, (kind, member) in CASES.items():
        entry = entries[fixture]
        assert entry["unsafe"] is True and entry["unsafe_kind"] == kind.value
        assert entry["unsafe_member"] == member and member in entry["error"]
    assert "pathlib.Path.touch" in entries["npz-object-array/model.keras"]["unsafe_imports"]
    assert entries["empty.keras"]["unsafe"] is False and "unsafe_kind" not in entries["empty.keras"]
    assert entries["honest/model.keras"]["format"] == "keras-zip"
    assert not (tmp_path / MARKER).exists()

    documented = (TESTS.parent / "docs" / "inspect-json.md").read_text()
    for key in entries["npz-object-array/model.keras"]:
        assert f"`{key}`" in documented, f"{key} is not documented in docs/inspect-json.md"
    for kind in UnsafeKind:
        assert f"`{kind.value}`" in documented, f"unsafe_kind {kind.value} is not documented"


def test_the_api_raises_unsafe_model_naming_kind_and_member():
    for fixture, (kind, member) in CASES.items():
        with pytest.raises(UnsafeModel) as caught:
            inspect(MALICIOUS / fixture)
        assert caught.value.kind == kind.value and caught.value.member == member
        assert isinstance(caught.value, BadInput) and caught.value.exit_code == 2


# ----------------------------------------------------------------------------- armed fixtures


ARM = """
import io, pickle, sys, zipfile
import numpy as np
path, member, how = sys.argv[1:]
data = open(path, "rb").read() if member == "-" else zipfile.ZipFile(path).read(member)
if how == "npz":
    with np.load(io.BytesIO(data), allow_pickle=True) as arrays:  # what Keras 3's NpzIOStore does
        for key in arrays.files:
            arrays[key]
else:
    pickle.loads(data)
"""


@pytest.mark.parametrize(("fixture", "member", "how"), [
    ("npz-object-array/model.keras", "model.weights.npz", "npz"),
    ("raw-pickle-member/model.keras", "assets/vocabulary.bin", "pickle"),
    ("npz-object-array-dir/model.weights.npz", "-", "npz"),
])
def test_control_the_fixtures_are_armed(tmp_path, fixture, member, how):
    """Unpickling the fixture bytes on purpose (subprocess, throwaway cwd) does create MARKER."""
    subprocess.run([sys.executable, "-c", ARM, str(MALICIOUS / fixture), member, how], cwd=tmp_path,
                   check=True, capture_output=True, timeout=60)
    assert (tmp_path / MARKER).exists()


def test_control_duplicate_config_reads_differently_than_listed():
    with zipfile.ZipFile(MALICIOUS / "duplicate-config" / "model.keras") as archive:
        copies = [archive.open(info).read() for info in archive.infolist() if info.filename == "config.json"]
        assert len(copies) == 2 and copies[0] != copies[1]
        assert archive.read("config.json") == copies[1]  # by name, zipfile reads the last copy


def test_the_committed_fixtures_are_what_the_generator_builds():
    sys.path.insert(0, str(TESTS / "fixtures"))
    try:
        import make_malicious_archives
    finally:
        sys.path.remove(str(TESTS / "fixtures"))
    for relative, data in make_malicious_archives.build().items():
        assert (MALICIOUS / relative).read_bytes() == data, relative


# ----------------------------------------------------------------------------- the scanner


def test_scanner_finds_the_payload_in_the_raw_member_bytes():
    with zipfile.ZipFile(MALICIOUS / "raw-pickle-member" / "model.keras") as archive:
        raw = archive.read("assets/vocabulary.bin")
    scan = scan_pickle(raw)
    assert scan.is_pickle and scan.calls >= 1 and "pathlib.Path" in scan.imports
    with zipfile.ZipFile(MALICIOUS / "npz-object-array" / "model.keras") as outer:
        weights = outer.read("model.weights.npz")
    with zipfile.ZipFile(io.BytesIO(weights)) as arrays:
        member = arrays.read("layers/dense.npy")
    header = read_npy_header(member)
    assert header.has_object and header.descr == "|O"
    finding = classify("dense.npy", member, len(member), ScanBudget())
    assert finding is not None and finding.kind is UnsafeKind.OBJECT_NPY
    assert "pathlib.Path.touch" in finding.imports and WORDS in finding.message()


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_protocol_is_a_pickle(protocol):
    data = pickle.dumps(Payload(), protocol=protocol)
    assert scan_pickle(data).is_pickle
    assert classify("innocent.txt", data, len(data), ScanBudget()).kind is UnsafeKind.RAW_PICKLE


def test_hand_written_protocol_0_payloads_are_pickles_even_with_garbage_after_the_call():
    classic = b"cos\nsystem\n(S'touch KRESOLVE_PICKLE_RAN'\ntR."
    assert scan_pickle(classic).is_pickle and scan_pickle(classic).imports == ("os.system",)
    assert scan_pickle(classic[:-1] + b"\xff\xfe garbage").is_pickle  # the call runs before the error
    stack_global = b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94\x93\x8c\x01x\x85R."
    assert scan_pickle(stack_global).imports == ("os.system",)


def test_a_pickle_longer_than_the_window_counts_as_a_pickle():
    long_prefix = b"(" + b"N" * (200 * 1024)  # valid opcodes to the end of the window
    assert scan_pickle(b"cos\nsystem\n" + long_prefix).is_pickle


@pytest.mark.parametrize("data", [
    b'{"class_name": "Functional", "config": {}}',
    b"[UNK]\nthe\nof\nand\n",
    b"cat\ndog\nbird\nfish\nhorse\n",  # starts like GLOBAL cat.dog, then nothing a pickle accepts
    b"\x89HDF\r\n\x1a\n" + bytes(64),
    pickle.dumps([1, 2.0, "three", {"four": None}], protocol=0),  # data only: cannot run code
])
def test_text_hdf5_and_data_only_protocol_0_are_not_pickles(data):
    assert not scan_pickle(data).is_pickle
    assert classify("assets/x.txt", data, len(data), ScanBudget()) is None


def test_clean_npy_and_npz_pass():
    floats = npy(np.arange(12, dtype="float32").reshape(3, 4))
    assert not read_npy_header(floats).has_object
    assert classify("w.npy", floats, len(floats), ScanBudget()) is None
    structured = npy(np.zeros(2, dtype=[("Ozone", "<f8"), ("count", "<i4")]))  # 'O' in a field name
    assert classify("s.npy", structured, len(structured), ScanBudget()) is None
    with pytest.raises(NotNpy):
        read_npy_header(b"not npy")


@pytest.mark.parametrize("descr", ["|O", "O", "object", [("a", "<f4"), ("b", "|O")], [("a", "|O", (2,))],
                                   [("a", [("inner", "|O")])], ("|O", (3,)), {"weird": 1}])
def test_object_or_unrecognised_descr_is_object(descr):
    header = repr({"descr": descr, "fortran_order": False, "shape": (1,)}).encode()
    data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\n"
    assert read_npy_header(data).has_object
    assert classify("x.npy", data, len(data), ScanBudget()).kind is UnsafeKind.OBJECT_NPY


@pytest.mark.parametrize("data", [
    b"\x93NUMPY\x01\x00\x10\x00{'descr': '|O',",  # truncated header
    b"\x93NUMPY\x01\x00\x08\x00(((((((",  # not a literal
    b"\x93NUMPY\x09\x00\x02\x00{}",  # unknown version
    b"\x93NUMPY\x02\x00" + (10**6).to_bytes(4, "little") + b"{",  # header beyond what is read
    b"\x93NUMPY\x01\x00\x1c\x00{'descr': '|O', 'shape': (1L,)}",  # Python 2 literal numpy may repair
])
def test_unreadable_npy_headers_are_refused_not_trusted(data):
    finding = classify("x.npy", data, len(data), ScanBudget())
    assert finding is not None and finding.kind is UnsafeKind.UNCHECKABLE_NPY


def test_npz_named_member_that_numpy_would_unpickle_whole():
    finding = classify("model.weights.npz", b"hello", 5, ScanBudget())
    assert finding is not None and finding.kind is UnsafeKind.NUMPY_PICKLE


def test_scan_budget_is_shared_and_bounded():
    budget = ScanBudget(total=1000)
    classify("a.bin", b"(" * 600, 600, budget)
    with pytest.raises(OverBudget):
        classify("b.bin", b"(" * 600, 600, budget)


# ----------------------------------------------------------------------------- archives built here


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "model.keras"
    path.write_bytes(data)
    return path


def test_honest_extra_npz_member_and_clean_assets_inspect_fine(tmp_path):
    clean = npz(w=np.ones((2, 2), "float32"), b=np.zeros(2, "float32"))
    path = write(tmp_path, keras_with([("assets/extra.npz", clean), ("assets/vocab.txt", b"[UNK]\nthe\nof\n")]))
    assert inspect(path).keras_version == "3.15.1"


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("outer", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_object_arrays_in_nested_npz_are_found_whatever_the_compression(tmp_path, compressed, outer):
    bad = npz(compressed, w=np.ones(3, "float32"), x=np.array([Payload()], dtype=object))
    path = write(tmp_path, keras_with([("model.weights.npz", bad)], outer))
    with pytest.raises(UnsafeModel) as caught:
        inspect(path)
    assert caught.value.kind == UnsafeKind.OBJECT_NPY.value
    assert caught.value.member == "model.weights.npz/x.npy"
    assert not (tmp_path / MARKER).exists() and not Path(MARKER).exists()


def test_a_top_level_npy_member_and_a_pickled_weights_member(tmp_path):
    path = write(tmp_path, keras_with([("assets/table.npy", npy(np.array([Payload()], dtype=object)))]))
    with pytest.raises(UnsafeModel, match="assets/table.npy"):
        inspect(path)
    path = write(tmp_path, keras_with([("model.weights.npz", pickle.dumps(Payload(), protocol=2))]))
    with pytest.raises(UnsafeModel, match="model.weights.npz") as caught:
        inspect(path)
    assert caught.value.kind == UnsafeKind.RAW_PICKLE.value


def test_duplicates_up_to_case_and_inside_an_npz(tmp_path):
    path = write(tmp_path, keras_with([("assets/A.txt", b"a"), ("assets/a.txt", b"b")]))
    with pytest.raises(UnsafeModel, match="duplicated") as caught:
        inspect(path)
    assert caught.value.kind == UnsafeKind.DUPLICATE_MEMBER.value and caught.value.member == "assets/a.txt"
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as arrays:
        arrays.writestr("w.npy", npy(np.ones(2)))
        with pytest.warns(UserWarning):
            arrays.writestr("w.npy", npy(np.zeros(2)))
    path = write(tmp_path, keras_with([("model.weights.npz", inner.getvalue())]))
    with pytest.raises(UnsafeModel) as caught:
        inspect(path)
    assert caught.value.member == "model.weights.npz/w.npy"


def test_a_pytorch_zip_keeps_its_own_refusal(tmp_path):
    """Not a .keras at all: the existing 'what is this' message wins over the pickle scan."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": 1}, protocol=2))
        archive.writestr("archive/version", b"3\n")
    with pytest.raises(BadInput, match="PyTorch checkpoint"):
        inspect(write(tmp_path, buffer.getvalue()))


def test_every_honest_keras_and_h5_fixture_still_inspects():
    """The formats the scan touches (.keras) and the one it must not (.h5), all real files."""
    models = sorted([*FIXTURES.glob("*/model.keras"), *FIXTURES.glob("*/model.h5")])
    assert len(models) >= 8
    for model in models:
        facts = inspect(model, project=False)  # raises BadInput (UnsafeModel) if refused
        assert facts.format == "keras-zip" or model.suffix == ".h5", model


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from(["assets/x.bin", "w.npy", "model.weights.npz"]))
def test_the_scanner_never_raises_on_arbitrary_bytes(data, member):
    scan = scan_pickle(data)
    assert 0 <= scan.consumed <= len(data)
    finding = classify(member, data, len(data), ScanBudget())
    assert finding is None or finding.member == member and finding.message()


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=512))
def test_npy_headers_from_arbitrary_bytes_are_read_or_refused(tail):
    data = b"\x93NUMPY\x01\x00" + tail
    finding = classify("x.npy", data, len(data), ScanBudget())
    assert finding is None or finding.kind in (UnsafeKind.OBJECT_NPY, UnsafeKind.UNCHECKABLE_NPY)


def test_a_hex_number_the_unpickler_accepts_cannot_hide_the_call_after_it():
    assert pickle.loads(b"I0x10\n.") == 16  # the unpickler reads int(s, 0); pickletools.genops refuses it
    for number in (b"I0x1\n", b"L0x1L\n"):
        scan = scan_pickle(number + b"0cos\nsystem\n(S'touch KRESOLVE_PICKLE_RAN'\ntR.")
        assert scan.is_pickle and scan.imports == ("os.system",)
