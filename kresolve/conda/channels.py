"""Which conda channels to solve against, read the way conda reads them (never a conda binary).

Precedence: `-c/--channel` (as given, in order) > the template's `channels:` > the `channels` of the
`.condarc` files (and `CONDA_CHANNELS`) > conda-forge. A channel is a name (resolved through
`custom_channels`, else `channel_alias`), `defaults` (`default_channels`), a URL (`https://…`,
`file:///…`) or a local directory. `.condarc` files are read in conda's search order, later ones
taking precedence for scalars (`channel_alias`) and coming first in merged lists (`channels`):
the system file, `$CONDA_ROOT`, `$XDG_CONFIG_HOME/conda`, `~/.config/conda`, `~/.conda`,
`~/.condarc`, `$CONDA_PREFIX`, then `$CONDARC`. `~` is the user's home (`%USERPROFILE%` on Windows).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from urllib.parse import urlsplit

from ..errors import BadInput
from ..project import safe_yaml

DEFAULT_CHANNEL = "conda-forge"
CHANNEL_ALIAS = "https://conda.anaconda.org/"
DEFAULT_CHANNELS = ("https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r")
MAX_CONDARC_BYTES = 1 << 20


@dataclass(frozen=True)
class CondaChannel:
    name: str  # as the user wrote it ("conda-forge", "file:///srv/mirror")
    url: str  # the channel's base URL, no trailing slash


@dataclass(frozen=True)
class ChannelSettings:
    """What the `.condarc` files and `CONDA_*` variables say about channels."""

    channels: tuple[str, ...] = ()
    channel_alias: str = CHANNEL_ALIAS
    default_channels: tuple[str, ...] = DEFAULT_CHANNELS
    custom_channels: tuple[tuple[str, str], ...] = ()
    files: tuple[str, ...] = ()  # the .condarc files that were read


def condarc_paths(environ: Mapping[str, str], home: Path, windows: bool = sys.platform == "win32") -> list[Path]:
    """conda's search path for .condarc files, lowest precedence first."""
    paths: list[Path] = []
    if windows:
        paths.append(Path(environ.get("PROGRAMDATA", r"C:\ProgramData")) / "conda" / ".condarc")
    else:
        paths += [Path("/etc/conda/.condarc"), Path("/etc/conda/condarc"), Path("/var/lib/conda/.condarc")]
    if environ.get("CONDA_ROOT"):
        paths += [Path(environ["CONDA_ROOT"]) / ".condarc", Path(environ["CONDA_ROOT"]) / "condarc"]
    xdg = environ.get("XDG_CONFIG_HOME")
    if xdg:
        paths.append(Path(xdg) / "conda" / ".condarc")
    paths += [home / ".config" / "conda" / ".condarc", home / ".conda" / ".condarc", home / ".conda" / "condarc",
              home / ".condarc"]
    if environ.get("CONDA_PREFIX"):
        paths += [Path(environ["CONDA_PREFIX"]) / ".condarc", Path(environ["CONDA_PREFIX"]) / "condarc"]
    if environ.get("CONDARC"):
        paths.append(Path(environ["CONDARC"]))
    unique: list[Path] = []
    for p in paths:
        if p not in unique:
            unique.append(p)
    return unique


def _read_condarc(path: Path) -> dict[str, object]:
    try:
        if path.stat().st_size > MAX_CONDARC_BYTES:
            raise BadInput(f"{path}: larger than {MAX_CONDARC_BYTES} bytes, not a .condarc")
        text = path.read_text("utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text, not a .condarc") from None
    try:
        # The project-file loader: no aliases (a billion-laughs .condarc would hang safe_load), no tags,
        # bounded depth; scalars stay strings, which is all the channel settings read here are.
        data = safe_yaml.load(text, MAX_CONDARC_BYTES)
    except safe_yaml.YamlError as exc:
        raise BadInput(f"{path}: not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a mapping of conda settings, got {type(data).__name__}")
    return data


def _strings(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInput(f"{where}: expected a list of channel names or URLs")
    return tuple(value)


def read_settings(environ: Mapping[str, str] | None = None, home: Path | None = None,
                  paths: Sequence[Path] | None = None) -> ChannelSettings:
    """The channel settings of this user: .condarc files in conda's order, then CONDA_* variables."""
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    channels: list[str] = []
    alias = CHANNEL_ALIAS
    defaults: tuple[str, ...] = DEFAULT_CHANNELS
    custom: dict[str, str] = {}
    read: list[str] = []
    for path in paths if paths is not None else condarc_paths(environ, home):
        if not path.is_file():
            continue
        data = _read_condarc(path)
        read.append(str(path))
        if "channels" in data:
            found = _strings(data["channels"], f"{path}: channels")
            channels = list(found) + [c for c in channels if c not in found]  # a later file comes first
        if isinstance(data.get("channel_alias"), str):
            alias = str(data["channel_alias"])
        if "default_channels" in data:
            defaults = _strings(data["default_channels"], f"{path}: default_channels")
        if "custom_channels" in data:
            value = data["custom_channels"]
            if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                raise BadInput(f"{path}: custom_channels: expected a mapping of channel name to base URL")
            custom.update(value)
    if environ.get("CONDA_CHANNELS"):
        found = tuple(c.strip() for c in environ["CONDA_CHANNELS"].split(",") if c.strip())
        channels = list(found) + [c for c in channels if c not in found]
    if environ.get("CONDA_CHANNEL_ALIAS"):
        alias = environ["CONDA_CHANNEL_ALIAS"]
    if environ.get("CONDA_DEFAULT_CHANNELS"):
        defaults = tuple(c.strip() for c in environ["CONDA_DEFAULT_CHANNELS"].split(",") if c.strip())
    return ChannelSettings(tuple(channels), alias, defaults, tuple(sorted(custom.items())), tuple(read))


def _is_url(text: str) -> bool:
    return "://" in text


def _is_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~")) or PureWindowsPath(text).drive != ""


def channel_url(name: str, settings: ChannelSettings) -> str:
    """The base URL of one channel name/URL/path, as conda resolves it."""
    if _is_url(name):
        parts = urlsplit(name)
        if not parts.netloc and parts.scheme != "file":
            raise BadInput(f"channel {name!r}: not a URL conda understands")
        return name.rstrip("/")
    if _is_path(name):
        return Path(name).expanduser().resolve().as_uri()
    if not name or any(c.isspace() for c in name):
        raise BadInput(f"channel {name!r}: expected a channel name, URL or directory")
    custom = dict(settings.custom_channels)
    first = name.split("/")[0]
    if first in custom:
        return f"{custom[first].rstrip('/')}/{name}"
    return f"{settings.channel_alias.rstrip('/')}/{name}"


def resolve_channels(cli: Sequence[str] = (), template: Sequence[str] = (),
                     settings: ChannelSettings | None = None) -> tuple[CondaChannel, ...]:
    """The channels to solve against, in priority order (see the module's docstring)."""
    settings = settings if settings is not None else read_settings()
    names = list(cli) or list(template) or list(settings.channels) or [DEFAULT_CHANNEL]
    expanded: list[str] = []
    for name in names:
        expanded += list(settings.default_channels) if name == "defaults" else [name]
    found: list[CondaChannel] = []
    for name in expanded:
        channel = CondaChannel(name, channel_url(name, settings))
        if all(c.url != channel.url for c in found):
            found.append(channel)
    return tuple(found)
