"""Decide what a model path is from its bytes and directory layout, never from its name's
extension; refuse everything else with a line that says what it looks like instead.

A model directory (SavedModel, unpacked .keras) is also checked for symbolic links that lead out
of it: its members are read (and, in a smoke test, loaded) on the user's behalf, so a link such
as `saved_model.pb -> /etc/passwd` or `variables -> /home/someone` in a directory that came from
elsewhere is refused, naming the link, rather than followed. Links that stay inside the model
directory are fine. The path the user passes may itself be a link: they named it.
"""

from __future__ import annotations

import enum
import os
import stat
from pathlib import Path

from kresolve._h5start import HDF5_SIGNATURE
from kresolve.artifact.jsontext import bad
from kresolve.artifact.limits import LIST_PREVIEW, MAX_DIR_DEPTH, MAX_DIR_ENTRIES

HDF5_MAGIC = HDF5_SIGNATURE  # one definition: the early reader start (kresolve/_h5start.py) needs it too
# HDF5 allows a user block before the superblock: the signature then sits at 512, 1024, ...
_HDF5_OFFSETS = (0, 512, 1024, 2048, 4096)
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


class Kind(enum.Enum):
    HDF5 = "hdf5"
    ZIP = "zip"
    SAVEDMODEL = "savedmodel"
    KERAS_DIR = "keras-dir"


def stat_or_bad(path: Path) -> os.stat_result:
    """`path.stat()`, with the one-line BadInput a user should see when it is not there."""
    try:
        return path.stat()
    except FileNotFoundError:
        raise bad(path, "no such file or directory") from None
    except PermissionError:
        raise bad(path, "permission denied") from None
    except OSError as exc:
        raise bad(path, f"cannot access ({exc.strerror or exc})") from None


def sniff(path: Path) -> tuple[Kind, Path]:
    """(what the path holds, the path the reader should open)."""
    info = stat_or_bad(path)
    if stat.S_ISDIR(info.st_mode):
        kind, where = _sniff_dir(path)
        refuse_links_out(where)
        return kind, where
    if not stat.S_ISREG(info.st_mode):
        raise bad(path, "not a regular file or directory")
    if info.st_size == 0:
        raise bad(path, "empty file (0 bytes)")
    try:
        with path.open("rb") as handle:
            head = handle.read(4096 + len(HDF5_MAGIC))
    except OSError as exc:
        raise bad(path, f"cannot read ({exc.strerror or exc})") from None
    kind = _sniff_file(path, head)
    if kind is Kind.SAVEDMODEL:  # saved_model.pb named directly: its directory is the model
        refuse_links_out(path.parent)
        return kind, path.parent
    return kind, path


def refuse_links_out(root: Path) -> None:
    """BadInput naming the first symbolic link under the model directory `root` whose target
    (followed to the end) lies outside `root`; links are never descended into."""
    real_root = Path(os.path.realpath(root))
    stack, seen = [(root, 0)], 0
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    seen += 1
                    if seen > MAX_DIR_ENTRIES:
                        raise bad(root, f"holds over {MAX_DIR_ENTRIES} files and folders: not a "
                                        "saved model directory")
                    if entry.is_symlink():
                        target = Path(os.path.realpath(entry.path))
                        if target != real_root and not target.is_relative_to(real_root):
                            raise bad(entry.path, f"symbolic link to {target}, outside the model "
                                                  f"directory {root}: refusing to follow it")
                    elif entry.is_dir(follow_symlinks=False):
                        if depth + 1 > MAX_DIR_DEPTH:
                            raise bad(entry.path, f"folders nest over {MAX_DIR_DEPTH} levels deep "
                                                  "in the model directory")
                        stack.append((Path(entry.path), depth + 1))
        except OSError as exc:
            raise bad(folder, f"cannot list directory ({exc.strerror or exc})") from None


def _sniff_dir(path: Path) -> tuple[Kind, Path]:
    if (path / "saved_model.pb").exists() or (path / "saved_model.pbtxt").exists():
        return Kind.SAVEDMODEL, path
    if (path / "config.json").is_file() and (path / "metadata.json").is_file():
        return Kind.KERAS_DIR, path
    try:
        entries = sorted(entry.name for entry in path.iterdir())
    except OSError as exc:
        raise bad(path, f"cannot list directory ({exc.strerror or exc})") from None
    if not entries:
        raise bad(path, "empty directory: not a SavedModel or an unpacked .keras model")
    inner = [name for name in entries if (path / name / "saved_model.pb").is_file()]
    if inner:
        # e.g. TF Serving's model_dir/1/, model_dir/2/ version folders
        raise bad(path, f"holds SavedModel directories ({', '.join(inner[:LIST_PREVIEW])}) rather "
                        f"than being one: pass one of them, e.g. {path / inner[-1]}")
    if "variables" in entries:
        raise bad(path, "has variables/ but no saved_model.pb: an incomplete SavedModel")
    if any(name.endswith(".index") for name in entries):
        raise bad(path, "a TensorFlow checkpoint (*.index + data shards), not a saved model: "
                        "restoring it needs the code that built the model")
    shown = ", ".join(entries[:LIST_PREVIEW]) + (", ..." if len(entries) > LIST_PREVIEW else "")
    raise bad(path, "directory is neither a SavedModel (no saved_model.pb) nor an unpacked "
                    f".keras model (no config.json + metadata.json); holds: {shown}")


def _sniff_file(path: Path, head: bytes) -> Kind:
    if any(head[offset : offset + len(HDF5_MAGIC)] == HDF5_MAGIC for offset in _HDF5_OFFSETS):
        return Kind.HDF5
    if head.startswith(_ZIP_MAGICS):
        return Kind.ZIP
    if path.name == "saved_model.pb":
        return Kind.SAVEDMODEL  # the reader opens the directory around it
    raise bad(path, _what_else(path, head))


def _what_else(path: Path, head: bytes) -> str:
    """What a non-model file looks like, so the user knows what they passed."""
    if path.suffix == ".pb" or path.name.endswith(".pb"):
        return ("a protobuf file, not a model on its own: pass the SavedModel directory that "
                "holds saved_model.pb")
    if path.name in ("config.json", "metadata.json") and (path.parent / "model.weights.h5").exists():
        return "a member of an unpacked .keras model: pass its directory"
    text = head.lstrip()
    if text.startswith(b"{"):
        if b'"kresolve_sidecar"' in head:
            return "a kresolve sidecar (kresolve.json), not a model"
        if b'"class_name"' in head and (b'"keras_version"' in head or b'"config"' in head):
            return ("a Keras architecture JSON (model.to_json()) holds no weights and is not "
                    "supported on its own: inspect the weights or full-model file saved with it")
        return "a JSON file, not a Keras model"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "a Python pickle, not a Keras model (it is never unpickled)"
    if head[4:8] == b"TFL3":
        return "a TensorFlow Lite flatbuffer, not a Keras model"
    if head.startswith(b"\x1f\x8b"):
        return "a gzip-compressed file: extract it first"
    if head.startswith((b"\x89HDF", b"\x0e\x03\x13\x01")):
        return "an HDF file with a damaged or unsupported signature"
    if len(head) >= 10 and head[8:10] == b'{"' and int.from_bytes(head[:8], "little") < 1 << 32:
        return "a safetensors file, not a Keras model"
    try:
        head[:512].decode("utf-8")
        if all(ch >= 0x20 or ch in b"\t\r\n" for ch in head[:512]):
            return "a text file, not a Keras model"
    except UnicodeDecodeError:
        pass
    preview = head[:8].hex(" ")
    return f"not a Keras model: unrecognised content (first bytes {preview})"
