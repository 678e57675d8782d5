"""Anything that is not a readable Keras/TensorFlow model is refused with one clear line that
names the file; no other exception type escapes `inspect`."""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import struct
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from kresolve.artifact import BadInput, inspect
from kresolve.errors import KresolveError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "models"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared models not found at {SHARED}")


def refused(path: Path, *fragments: str, names: Path | None = None) -> str:
    """inspect(path) raises BadInput naming `names` (default: path) on one line with fragments."""
    with pytest.raises(BadInput) as err:
        inspect(path)
    message = str(err.value)
    assert str(names or path) in message, message
    assert "\n" not in message
    assert err.value.exit_code == 2
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


def write_zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def keras_zip(path: Path, config: object, metadata: object | None = None, raw_config: bytes | None = None,
              weights: bool = True) -> Path:
    members = {
        "metadata.json": json.dumps(metadata or {"keras_version": "3.4.1", "date_saved": "x"}).encode(),
        "config.json": raw_config if raw_config is not None else json.dumps(config).encode(),
    }
    if weights:
        members["model.weights.h5"] = b"\x89HDF\r\n\x1a\n"
    return write_zip(path, members)


GOOD_CONFIG = {
    "module": "keras", "class_name": "Sequential", "registered_name": None,
    "config": {"name": "s", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer",
         "config": {"batch_shape": [None, 3], "dtype": "float32", "name": "inp"}, "registered_name": None},
        {"module": "keras.layers", "class_name": "Dense", "config": {"units": 1}, "registered_name": None},
    ]},
}


# Paths that do not hold a model ---------------------------------------------------------------
def test_missing_path(tmp_path):
    refused(tmp_path / "nope.h5", "no such file or directory")


def test_empty_file(tmp_path):
    path = tmp_path / "model.h5"
    path.write_bytes(b"")
    refused(path, "empty file")


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("name", ["model.h5", "model.keras", "saved_model.pb", "weights.bin"])
def test_random_bytes(tmp_path, seed, name):
    rng = random.Random(seed)
    path = tmp_path / name
    path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5000))))
    # saved_model.pb by name is read as a SavedModel: the refusal names the .pb file.
    refused(path, names=path)


def test_text_file(tmp_path):
    path = tmp_path / "model.h5"
    path.write_text("hello, this is not a model\n")
    refused(path, "text file")


def test_pickle_is_named_and_never_unpickled(tmp_path):
    path = tmp_path / "model.pkl"
    # A pickle whose loading would run os.system: it must only be recognised, never loaded.
    path.write_bytes(b"\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93\x8c\x04true\x85R.")
    refused(path, "pickle", "never unpickled")


def test_gzip_and_tflite_and_safetensors(tmp_path):
    gz = tmp_path / "model.h5.gz"
    gz.write_bytes(gzip.compress(b"\x89HDF\r\n\x1a\n" + b"\0" * 100))
    refused(gz, "gzip")
    tfl = tmp_path / "model.tflite"
    tfl.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\0" * 64)
    refused(tfl, "TensorFlow Lite")
    header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    st = tmp_path / "model.safetensors"
    st.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 4)
    refused(st, "safetensors")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_special_file(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    refused(fifo, "not a regular file")


def test_sidecar_passed_as_model(tmp_path):
    path = tmp_path / "kresolve.json"
    path.write_text(json.dumps({"kresolve_sidecar": 1, "model": "m.h5"}))
    refused(path, "sidecar")


# Directories ------------------------------------------------------------------------------------
def test_empty_directory(tmp_path):
    refused(tmp_path, "empty directory")


def test_directory_with_junk(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "data.csv").write_text("a,b")
    message = refused(tmp_path, "neither a SavedModel", "notes.txt")
    assert "data.csv" in message


def test_checkpoint_directory(tmp_path):
    (tmp_path / "ckpt.index").write_bytes(b"\0")
    (tmp_path / "ckpt.data-00000-of-00001").write_bytes(b"\0")
    refused(tmp_path, "checkpoint")


def test_variables_without_graph(tmp_path):
    (tmp_path / "variables").mkdir()
    refused(tmp_path, "incomplete SavedModel")


def test_serving_versions_directory_asks_for_one(tmp_path):
    for version in ("1", "2"):
        (tmp_path / version).mkdir()
        (tmp_path / version / "saved_model.pb").write_bytes(b"\x08\x01")
    refused(tmp_path, "pass one of them", str(tmp_path / "2"))


def test_text_format_savedmodel(tmp_path):
    (tmp_path / "saved_model.pbtxt").write_text("saved_model_schema_version: 1\n")
    refused(tmp_path, "saved_model.pbtxt")


# SavedModel protobufs ----------------------------------------------------------------------------
def test_empty_saved_model_pb(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"")
    refused(tmp_path, "empty file", names=tmp_path / "saved_model.pb")


def test_saved_model_pb_without_meta_graph(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"\x08\x01")  # schema_version only
    refused(tmp_path, "no meta graph", names=tmp_path / "saved_model.pb")


def test_saved_model_pb_with_garbage_fields(tmp_path):
    # Field 2 (meta_graphs) claims more bytes than the file holds.
    (tmp_path / "saved_model.pb").write_bytes(b"\x08\x01\x12\xff\xff\x03abc")
    refused(tmp_path, "not a valid SavedModel protobuf", names=tmp_path / "saved_model.pb")


@needs_shared
def test_corrupt_keras_metadata_names_that_file(tmp_path):
    src = SHARED / "tf28-savedmodel-keras-metadata"
    model = tmp_path / "sm"
    shutil.copytree(src, model)
    os.chmod(model, 0o755)
    os.chmod(model / "keras_metadata.pb", 0o644)
    (model / "keras_metadata.pb").write_bytes(b"\x0a\xff\xff\xff\x0f")
    refused(model, "Keras metadata", names=model / "keras_metadata.pb")


# HDF5 ----------------------------------------------------------------------------------------------
@needs_shared
@pytest.mark.parametrize("keep", [8, 100, 2048, 0.5, -1])
def test_truncated_h5(tmp_path, keep):
    data = (SHARED / "keras22-carnd-lambda-b64" / "my_model.h5").read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else (len(data) + keep if keep < 0 else keep)
    path = tmp_path / "model.h5"
    path.write_bytes(data[:cut])
    refused(path, "HDF5")


def test_hdf5_that_is_not_keras(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as handle:
        handle["measurements"] = np.arange(10)
    refused(path, "not a Keras model", "measurements")


def test_hdf5_with_invalid_model_config(tmp_path):
    path = tmp_path / "model.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["keras_version"] = "2.4.0"
        handle.attrs["model_config"] = '{"class_name": "Sequential", "config": {'
    refused(path, "model_config", "not valid JSON")


def test_hdf5_with_non_text_model_config(tmp_path):
    path = tmp_path / "model.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = np.arange(3)
    refused(path, "model_config", "expected text")


def test_hdf5_with_config_that_is_not_a_keras_object(tmp_path):
    path = tmp_path / "model.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps([1, 2, 3])
    refused(path, "no class_name")


def test_hdf5_config_nested_too_deeply(tmp_path):
    path = tmp_path / "model.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = "[" * 100_000 + "]" * 100_000
    refused(path, "nested")


@needs_shared
def test_hdf5_library_crash_is_contained(tmp_path):
    # One flipped bit in a variable-length string reference makes libhdf5 (h5py 3.16) segfault
    # while reading the keras_version attribute. The reader runs in a worker process, so this is
    # a refusal, not a dead kresolve; the next file is read by a fresh worker.
    data = bytearray((SHARED / "keras21-unet-weights-only" / "unet.hdf5").read_bytes())
    data[1617] ^= 8
    path = tmp_path / "unet.hdf5"
    path.write_bytes(bytes(data))
    with pytest.raises(BadInput) as err:
        inspect(path)
    assert str(path) in str(err.value)
    facts = inspect(SHARED / "keras23-small-dense" / "my_model.h5")
    assert facts.keras_version == "2.3.0"


def _crashing_copy(dest: Path) -> Path:
    data = bytearray((SHARED / "keras21-unet-weights-only" / "unet.hdf5").read_bytes())
    data[1617] ^= 8  # as in test_hdf5_library_crash_is_contained: libhdf5 segfaults on it
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(bytes(data))
    return dest


def _hanging_copy(dest: Path) -> Path:
    data = bytearray((SHARED / "keras20-carnd-lambda" / "model.h5").read_bytes())
    for position, mask in ((594, 2), (1197, 1), (1459, 8), (2154, 1)):  # as in the hang test below
        data[position] ^= mask
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(bytes(data))
    return dest


@needs_shared
@pytest.mark.parametrize("bad_file", ["crash", "hang"])
def test_a_directory_read_ahead_refuses_only_the_file_the_library_fails_on(tmp_path, monkeypatch, bad_file):
    """`inspect DIR` keeps the HDF5 reader working on the next files (h5worker.read_ahead); a
    file the library crashes or hangs on in the middle of that queue is refused by name, and
    the files queued after it are read by the next worker."""
    from kresolve.artifact import h5worker, inspect_all

    monkeypatch.setattr(h5worker, "REQUEST_TIMEOUT_S", 2.0)
    good = SHARED / "keras23-small-dense" / "my_model.h5"
    for name in ("a", "b", "d", "e", "f", "g"):
        (tmp_path / name).mkdir()
        shutil.copy(good, tmp_path / name / "my_model.h5")
    broken = (_crashing_copy if bad_file == "crash" else _hanging_copy)(tmp_path / "c" / "model.h5")
    h5worker.prestart_for(good)  # the worker runs from the first file on: every later file is read ahead
    results = dict(inspect_all(tmp_path, project=False))
    assert len(results) == 7
    refusal = results.pop(broken)
    assert isinstance(refusal, BadInput) and str(broken) in str(refusal)
    assert ("crashed" if bad_file == "crash" else "did not finish") in str(refusal)
    assert all(not isinstance(f, BadInput) and f.keras_version == "2.3.0" for f in results.values())


@needs_shared
def test_a_file_read_ahead_keeps_its_refusal_for_its_own_question(tmp_path):
    """Asked out of the order they were read ahead: the file the worker crashed on keeps its
    refusal for when it is asked for, and the file asked first is read by the next worker."""
    from kresolve.artifact import h5worker

    good = tmp_path / "good" / "my_model.h5"
    good.parent.mkdir()
    shutil.copy(SHARED / "keras23-small-dense" / "my_model.h5", good)
    broken = _crashing_copy(tmp_path / "broken" / "unet.hdf5")
    h5worker.prestart_for(good)
    h5worker.read_ahead([broken, good])
    assert h5worker._WORKER._pending == [(str(broken), "model"), (str(good), "model")]
    assert h5worker.h5_metadata(good)["attrs"]["keras_version"] == "2.3.0"
    with pytest.raises(BadInput, match="crashed"):
        h5worker.h5_metadata(broken)
    assert h5worker._WORKER._pending == [] and h5worker._WORKER._early == {}


# Zips --------------------------------------------------------------------------------------------
def test_zip_that_is_not_keras(tmp_path):
    path = write_zip(tmp_path / "model.keras", {"readme.txt": b"hi", "data/x.csv": b"1,2"})
    refused(path, "not a .keras model", "readme.txt")


def test_pytorch_zip_named_h5(tmp_path):
    # Layout only (no real pickle inside): recognised by member names, never opened.
    path = write_zip(tmp_path / "weights.h5", {
        "archive/data.pkl": b"\x80\x02}q\x00.", "archive/data/0": b"\0" * 16, "archive/version": b"3\n"})
    refused(path, "PyTorch checkpoint")


def test_npz_archive(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, a=np.zeros(3))
    refused(path, "NumPy .npz")


def test_zipped_savedmodel(tmp_path):
    path = write_zip(tmp_path / "model.zip", {"export/1/saved_model.pb": b"\x08\x01"})
    refused(path, "SavedModel", "unzip")


def test_keras_members_in_a_subfolder(tmp_path):
    path = write_zip(tmp_path / "model.keras", {"m/config.json": b"{}", "m/metadata.json": b"{}"})
    refused(path, "'m/'")


def test_keras_zip_missing_metadata(tmp_path):
    path = write_zip(tmp_path / "model.keras", {"config.json": json.dumps(GOOD_CONFIG).encode()})
    refused(path, "not a .keras model")


def test_keras_zip_with_invalid_config_json(tmp_path):
    path = keras_zip(tmp_path / "model.keras", None, raw_config=b'{"class_name": ')
    refused(path, "config.json", "not valid JSON")


def test_keras_zip_config_is_not_an_object(tmp_path):
    path = keras_zip(tmp_path / "model.keras", [1, 2])
    refused(path, "config.json is not a JSON object")


def test_keras_zip_metadata_is_not_an_object(tmp_path):
    path = keras_zip(tmp_path / "model.keras", GOOD_CONFIG, metadata=["x"])
    refused(path, "metadata.json is not a JSON object")


def test_keras_zip_config_nested_too_deeply(tmp_path):
    path = keras_zip(tmp_path / "model.keras", None, raw_config=b"[" * 50_000 + b"]" * 50_000)
    refused(path, "nested")


def test_zip_bomb_member_is_refused_before_inflating(tmp_path):
    path = write_zip(tmp_path / "model.keras", {
        "metadata.json": b'{"keras_version": "3.4.1"}',
        "config.json": b" " * (20 * 1024 * 1024),  # deflates ~1000:1
    }, compression=zipfile.ZIP_DEFLATED)
    refused(path, "zip bomb")


def test_oversized_member_is_refused_by_its_header(tmp_path, monkeypatch):
    from kresolve.artifact import kerazip

    monkeypatch.setattr(kerazip, "MAX_JSON_BYTES", 1024)
    path = keras_zip(tmp_path / "model.keras", {"class_name": "X", "pad": "y" * 4096})
    refused(path, "config.json", "limit")


def test_zip_claiming_absurd_member_count(tmp_path):
    path = keras_zip(tmp_path / "model.keras", GOOD_CONFIG)
    data = bytearray(path.read_bytes())
    eocd = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, eocd + 8, 65000, 65000)
    path.write_bytes(bytes(data))
    refused(path, "65000 members")


def test_truncated_zip(tmp_path):
    path = keras_zip(tmp_path / "model.keras", GOOD_CONFIG)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    refused(path, "zip")


def test_encrypted_looking_member(tmp_path):
    path = keras_zip(tmp_path / "model.keras", GOOD_CONFIG)
    data = bytearray(path.read_bytes())
    # Set the "encrypted" flag bit in every local and central header.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            data[at + offset] |= 1
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))
    refused(path, "damaged zip")


def test_keras_zip_without_weights_is_read_with_a_warning(tmp_path):
    facts = inspect(keras_zip(tmp_path / "model.keras", GOOD_CONFIG, weights=False))
    assert facts.format == "keras-zip"
    assert any("model.weights.h5" in note for note in facts.notes)


def test_good_synthetic_keras_zip_reads(tmp_path):
    facts = inspect(keras_zip(tmp_path / "model.keras", GOOD_CONFIG))
    assert facts.keras_version == "3.4.1"
    assert [(spec.name, spec.shape) for spec in facts.inputs] == [("inp", (None, 3))]


def test_bad_input_is_a_kresolve_error_with_exit_code_2(tmp_path):
    with pytest.raises(KresolveError) as err:
        inspect(tmp_path / "missing")
    assert err.value.exit_code == 2


@needs_shared
def test_hdf5_library_hang_is_cut_short(tmp_path, monkeypatch):
    # Four flipped bits make libhdf5 spin on the 'backend' attribute of this file (CPU-bound,
    # no progress); the worker is killed after the request timeout and the file refused.
    from kresolve.artifact import h5worker

    monkeypatch.setattr(h5worker, "REQUEST_TIMEOUT_S", 2.0)
    data = bytearray((SHARED / "keras20-carnd-lambda" / "model.h5").read_bytes())
    for position, mask in ((594, 2), (1197, 1), (1459, 8), (2154, 1)):
        data[position] ^= mask
    path = tmp_path / "model.h5"
    path.write_bytes(bytes(data))
    refused(path, "did not finish")
    assert inspect(SHARED / "keras23-small-dense" / "my_model.h5").keras_version == "2.3.0"


@needs_shared
def test_dead_worker_is_replaced():
    from kresolve.artifact import h5worker

    model = SHARED / "keras23-small-dense" / "my_model.h5"
    assert inspect(model).keras_version == "2.3.0"
    worker = h5worker._WORKER._proc
    assert worker is not None
    worker.kill()
    worker.wait()
    assert inspect(model).keras_version == "2.3.0"


@needs_shared
def test_in_process_fallback_when_no_worker_can_start(monkeypatch, tmp_path):
    # Frozen apps (sys.executable is the app itself) read HDF5 metadata in-process instead.
    import sys

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert inspect(SHARED / "keras20-carnd-lambda" / "model.h5").keras_version == "2.0.6"
    path = tmp_path / "model.h5"
    path.write_bytes((SHARED / "keras20-carnd-lambda" / "model.h5").read_bytes()[:5000])
    refused(path, "truncated or damaged")


def test_message_keeps_odd_file_names_intact(tmp_path):
    path = tmp_path / "my  model (v2).h5"
    path.write_bytes(b"\x00\x01\x02 not a model")
    refused(path, "unrecognised content")
    weird = tmp_path / "line\nbreak.h5"
    weird.write_bytes(b"")
    with pytest.raises(BadInput) as err:
        inspect(weird)
    assert "\n" not in str(err.value) and "line break.h5" in str(err.value)
