"""Write a run's files all-or-nothing: stage them in the output directory, then move them in."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..errors import BadInput

HEAD_BYTES = 4096  # kresolve's marker is in the first lines of what it writes


def refuse_foreign(out_dir: Path, markers: dict[str, str]) -> None:
    """Refuse (exit 2) before any work when a file kresolve would replace is not one it wrote
    (`markers`: file name -> text kresolve puts in its first lines): `./requirements.txt` is often
    the user's own, and may be the evidence just read."""
    for name, marker in markers.items():
        path = out_dir / name
        if not path.exists():
            continue
        try:
            with open(path, "rb") as fh:
                head = fh.read(HEAD_BYTES).decode("utf-8", "replace")
        except OSError as exc:
            raise BadInput(f"{path}: cannot read the existing file ({exc.strerror or exc})") from None
        if marker not in head:
            raise BadInput(f"{path} exists and was not written by kresolve: refusing to replace it "
                           "(choose another directory with -o DIR)")


class Staging:
    """Files are written to a hidden staging directory; `commit()` renames each into place.

    Until `commit()`, an existing lock in the output directory is untouched; `discard()` (or a
    crash) leaves only the staging directory, which the next run removes.
    """

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in out_dir.glob(".kresolve-staging-*"):
            shutil.rmtree(stale, ignore_errors=True)
        self.dir = Path(tempfile.mkdtemp(prefix=".kresolve-staging-", dir=out_dir))
        self.names: list[str] = []

    def write(self, name: str, text: str) -> Path:
        path = self.dir / name
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if name not in self.names:
            self.names.append(name)
        return path

    def commit(self) -> list[Path]:
        written = []
        for name in self.names:
            target = self.out_dir / name
            os.replace(self.dir / name, target)
            written.append(target)
        shutil.rmtree(self.dir, ignore_errors=True)
        return written

    def keep_as(self, name: str) -> Path:
        """Keep the staged files for inspection under `out_dir/name` (replacing an older one)."""
        target = self.out_dir / name
        shutil.rmtree(target, ignore_errors=True)
        os.replace(self.dir, target)
        return target

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
