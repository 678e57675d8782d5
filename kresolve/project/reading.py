"""Reading project files safely: size caps, symlinks that leave the project, text encodings.

Project files are untrusted input found beside a model (a shared drive, a downloaded repo), so
every read goes through `read_text`: it refuses special files, files over a cap and symlinks
leading out of the searched directories, and returns why instead of raising.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kresolve.project.evidence import Collector

MiB = 1024 * 1024
MAX_PROJECT_FILE_BYTES = 1 * MiB  # hand-written files: requirements, environment.yml, TOML, cfg
MAX_LOCK_FILE_BYTES = 16 * MiB  # Pipfile.lock / poetry.lock / uv.lock of big projects
MAX_VERSION_FILE_BYTES = 64 * 1024  # .python-version, runtime.txt


def read_text(path: Path, top: Path, limit: int) -> tuple[str | None, str | None]:
    """(text, None) or (None, why not). Refuses symlinks that leave `top`, special files and
    files over `limit`; decodes UTF-8 (BOM tolerated) and UTF-16 with a BOM (PowerShell's
    `pip freeze > requirements.txt` writes that)."""
    why = outside_project(path, top)
    if why:
        return None, why
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        if info.st_size > limit:
            return None, f"{info.st_size // 1024} KiB, over the {limit // 1024} KiB limit for project files"
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        return None, f"cannot read ({exc.strerror or exc})"
    if len(data) > limit:
        return None, f"over the {limit // 1024} KiB limit for project files"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError:
            return None, "not valid UTF-16 text"
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return None, "not UTF-8 text"


def outside_project(path: Path, top: Path) -> str | None:
    """Why `path` may not be read: a symlink (anywhere on the way) leading out of `top`."""
    try:
        real = path.resolve(strict=False)
        root = top.resolve(strict=False)
    except (OSError, RuntimeError):
        return "cannot resolve the path (symlink loop?)"
    if real != root and root not in real.parents:
        return f"a symbolic link leading out of the project ({root}), not followed"
    return None


def path_key(path: Path) -> Path:
    """The lexical absolute form of `path`: how included files are recognised a second time."""
    return Path(os.path.normpath(os.path.abspath(path)))


def redact(url: str) -> str:
    """A URL without its credentials (index URLs often carry tokens)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        parts = parts._replace(netloc="***@" + host)
    return urlunsplit(parts)


def toml_document(col: Collector, path: Path, top: Path, limit: int = MAX_PROJECT_FILE_BYTES) -> dict[str, Any] | None:
    """The TOML file as a table, or None with a note saying why not."""
    import tomllib  # here: a model with no TOML file beside it never imports it

    text, why = read_text(path, top, limit)
    if text is None:
        col.note(f"{path.name}: {why}")
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        col.note(f"{path.name}: not valid TOML ({exc})")
        return None
    except RecursionError:
        col.note(f"{path.name}: TOML nested too deeply; not read")
        return None


def yaml_document(col: Collector, path: Path, top: Path) -> dict[str, Any] | None:
    """The YAML file as a mapping (safe_yaml's limits), or None with a note saying why not."""
    from kresolve.project import safe_yaml  # PyYAML costs ~40 ms to import: only when a YAML file is found

    text, why = read_text(path, top, MAX_PROJECT_FILE_BYTES)
    if text is None:
        col.note(f"{path.name}: {why}")
        return None
    try:
        document = safe_yaml.load(text)
    except safe_yaml.YamlError as exc:
        col.note(f"{path.name}: not parsed ({exc})")
        return None
    if not isinstance(document, dict):
        col.note(f"{path.name}: not a YAML mapping")
        return None
    return document
