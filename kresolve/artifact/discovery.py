"""Find the models inside a directory that is not itself a model (fleet scans, model zoos).

What counts as a model candidate (decided from bytes and layout, nothing is loaded; the HDF5
worker is not asked, magic bytes suffice):
- a file with the HDF5 signature (at offset 0 or a user-block offset), whatever its name;
- a zip file named like a model (`.keras`, `.h5`, `.hdf5`, `.hdf`) or whose central directory
  holds `config.json` + `metadata.json` at its root (a renamed .keras); other zips (datasets,
  archives) are skipped;
- any file named like a model (`.keras`, `.h5`, `.hdf5`, `.hdf`) even when its bytes are not a
  model (empty, truncated, a Git LFS pointer, a PyTorch zip): `inspect` then refuses it with its
  reason, so a scan reports every file that poses as a model;
- a directory holding `saved_model.pb` / `saved_model.pbtxt` (SavedModel), or `config.json` +
  `metadata.json` (an unpacked .keras), or `variables/variables.index` without saved_model.pb
  (an incomplete SavedModel, reported as refused). The search never descends into a model
  directory (so a SavedModel's variables/ and assets/ are never entered).

Walk limits: MAX_DEPTH directory levels below the root, MAX_MODELS candidates, MAX_ENTRIES
directory entries; symbolic links are never followed (not even to files) and are counted in the
notes; hidden directories (.git, .dvc, .cache, ...), virtual envs (pyvenv.cfg / conda-meta
inside), node_modules, __pycache__ and site-packages are skipped. Output order is sorted,
depth-first, so runs are reproducible.
"""

from __future__ import annotations

import os
import stat
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from kresolve.artifact.jsontext import bad
from kresolve.artifact.sniff import HDF5_MAGIC, stat_or_bad

MAX_DEPTH = 4
MAX_MODELS = 1000
MAX_ENTRIES = 200_000
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5", ".hdf")
SKIP_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "venv", "virtualenv"})
_HDF5_OFFSETS = (0, 512, 1024, 2048, 4096)
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_PEEK_MAX_MEMBERS = 10_000
_PEEK_MAX_CENTRAL_DIR = 4 * 1024 * 1024


@dataclass(frozen=True)
class Discovery:
    """What a directory scan found: candidate model paths and what was skipped or cut short."""

    root: str
    models: tuple[Path, ...]
    notes: tuple[str, ...] = ()
    complete: bool = True  # False when a limit stopped the scan (see notes)


def discover(path: str | os.PathLike[str]) -> tuple[Path, ...]:
    """The models at `path`: itself when it is a file or a model directory, else the model
    candidates found inside it. Raises BadInput when it does not exist or holds none."""
    return find_models(path).models


def find_models(path: str | os.PathLike[str]) -> Discovery:
    """discover() with the scan's notes (skipped links, limits reached)."""
    root = Path(os.fspath(path))
    info = stat_or_bad(root)
    if not stat.S_ISDIR(info.st_mode) or is_model_dir(root):
        return Discovery(root=str(root), models=(root,))
    walk = _Walk()
    walk.directory(root, 0)
    if not walk.models:
        extra = f" ({'; '.join(walk.notes)})" if walk.notes else ""
        raise bad(root, f"no Keras/TensorFlow models found in this directory or {MAX_DEPTH} levels "
                        f"below it (looked for HDF5 files, .keras archives and SavedModel "
                        f"directories){extra}")
    return Discovery(root=str(root), models=tuple(walk.models), notes=tuple(walk.notes),
                     complete=not walk.cut)


def is_model_dir(path: Path) -> bool:
    """A directory that is one model, not a folder of models: a SavedModel (`saved_model.pb` or
    `.pbtxt`), an unpacked `.keras` (`config.json` + `metadata.json`), or a SavedModel whose graph
    is missing but whose variables are there (reported as an incomplete SavedModel, not walked)."""
    return (_is_file(path / "saved_model.pb") or _is_file(path / "saved_model.pbtxt")
            or (_is_file(path / "config.json") and _is_file(path / "metadata.json"))
            or _is_file(path / "variables" / "variables.index"))


def is_model_file(path: Path, size: int | None = None) -> bool:
    """Whether a regular file is a model candidate (see the module doc)."""
    named = path.name.lower().endswith(MODEL_SUFFIXES)
    if named:
        return True
    if size is not None and size < 8:
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(4096 + len(HDF5_MAGIC))
    except OSError:
        return False
    if any(head[o : o + len(HDF5_MAGIC)] == HDF5_MAGIC for o in _HDF5_OFFSETS):
        return True
    if head.startswith(_ZIP_MAGICS):
        return _zip_holds_keras(path)
    return False


def _zip_holds_keras(path: Path) -> bool:
    """config.json + metadata.json at the archive root, read from a bounded central directory."""
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            tail_len = min(size, 22 + 65535)
            handle.seek(size - tail_len)
            tail = handle.read(tail_len)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            return False
        entries, cd_size = struct.unpack_from("<xxxxxxxxxxHI", tail, at)
        if entries > _PEEK_MAX_MEMBERS or cd_size > _PEEK_MAX_CENTRAL_DIR:
            return False
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, struct.error,
            EOFError, NotImplementedError, RuntimeError):
        return False
    return "config.json" in names and "metadata.json" in names


def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


class _Walk:
    def __init__(self) -> None:
        self.models: list[Path] = []
        self.notes: list[str] = []
        self.cut = False
        self.entries = 0
        self.links = 0
        self.deep: list[str] = []
        self.skipped_envs: list[str] = []
        self.unreadable: list[str] = []
        self.seen: set[tuple[int, int]] = set()

    def directory(self, path: Path, depth: int) -> None:
        self._scan(path, depth)
        if self.links:
            self.notes.append(f"skipped {self.links} symbolic link(s) (never followed)")
        if self.skipped_envs:
            self.notes.append(f"skipped {len(self.skipped_envs)} virtual environment(s): "
                              f"{', '.join(self.skipped_envs[:3])}")
        if self.deep:
            self.notes.append(f"did not look more than {MAX_DEPTH} levels down (e.g. under "
                              f"{self.deep[0]})")
        if self.unreadable:
            self.notes.append(f"could not list {len(self.unreadable)} director(y/ies), e.g. "
                              f"{self.unreadable[0]}")

    def _scan(self, path: Path, depth: int) -> None:
        if self.cut:
            return
        try:
            info = path.stat()
            key = (info.st_dev, info.st_ino)
            if key in self.seen:
                return  # a bind mount loop
            self.seen.add(key)
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            self.unreadable.append(f"{path} ({exc.strerror or exc})")
            return
        for entry in entries:
            self.entries += 1
            if self.entries > MAX_ENTRIES:
                self._stop(f"stopped after {MAX_ENTRIES} directory entries; the results are "
                           "incomplete: pass a narrower directory")
                return
            try:
                if entry.is_symlink():
                    self.links += 1
                elif entry.is_dir(follow_symlinks=False):
                    self._subdirectory(entry, depth)
                elif entry.is_file(follow_symlinks=False) and is_model_file(
                    Path(entry.path), entry.stat(follow_symlinks=False).st_size
                ):
                    self._found(Path(entry.path))
            except OSError:
                continue
            if self.cut:
                return

    def _subdirectory(self, entry: os.DirEntry[str], depth: int) -> None:
        child = Path(entry.path)
        if entry.name.startswith(".") or entry.name in SKIP_DIRS:
            return
        if is_model_dir(child):
            self._found(child)
        elif _is_file(child / "pyvenv.cfg") or (child / "conda-meta").is_dir():
            self.skipped_envs.append(entry.name)
        elif depth + 1 > MAX_DEPTH:
            self.deep.append(str(child))
        else:
            self._scan(child, depth + 1)

    def _found(self, path: Path) -> None:
        if len(self.models) >= MAX_MODELS:
            self._stop(f"stopped at {MAX_MODELS} models; the results are incomplete: pass a "
                       "narrower directory")
            return
        self.models.append(path)

    def _stop(self, note: str) -> None:
        self.cut = True
        if note not in self.notes:
            self.notes.append(note)
