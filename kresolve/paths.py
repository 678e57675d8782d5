"""Where configuration lives on each OS, by pip's own rules (`pip config debug` lists the same).

Pure functions of an OS name, the environment and the home directory, so every OS's rules are
testable on any host; `current_os()` picks this host's.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath, PureWindowsPath


class OS(enum.Enum):
    LINUX = "linux"  # and every other POSIX system pip treats alike (BSDs)
    MACOS = "darwin"
    WINDOWS = "win32"


def current_os() -> OS:
    if sys.platform == "darwin":
        return OS.MACOS
    if sys.platform == "win32":
        return OS.WINDOWS
    return OS.LINUX


class ConfigKind(enum.Enum):
    """pip's configuration variants, lowest priority first (pip's `override_order`)."""

    GLOBAL = "global"
    USER = "user"
    SITE = "site"
    ENV = "env"  # the file PIP_CONFIG_FILE names


@dataclass(frozen=True)
class ConfigFile:
    kind: ConfigKind
    path: PurePath


def pip_config_basename(os_: OS) -> str:
    return "pip.ini" if os_ is OS.WINDOWS else "pip.conf"


def pip_config_files(os_: OS, env: Mapping[str, str], home: PurePath, prefix: PurePath | None = None,
                     is_dir: Callable[[str], bool] = os.path.isdir,
                     exists: Callable[[str], bool] = os.path.exists) -> list[ConfigFile]:
    """pip's configuration files in the order pip loads them (a later file overrides an earlier).

    global: Linux `$XDG_CONFIG_DIRS/pip/pip.conf` (default `/etc/xdg`) then `/etc/pip.conf`; macOS
    `/Library/Application Support/pip/pip.conf`; Windows `%PROGRAMDATA%\\pip\\pip.ini`.
    user: the legacy `~/.pip/pip.conf` (Windows `~\\pip\\pip.ini`), then the new one: Linux
    `$XDG_CONFIG_HOME/pip/pip.conf` (default `~/.config`); macOS `~/Library/Application
    Support/pip/pip.conf` when that directory exists, else `~/.config/pip/pip.conf`; Windows
    `%APPDATA%\\pip\\pip.ini`. Skipped, as pip does, when PIP_CONFIG_FILE names an existing file.
    site: `pip.conf` (`pip.ini`) in `prefix` (the virtual environment, `sys.prefix`).
    env: the PIP_CONFIG_FILE file, last. `PIP_CONFIG_FILE=os.devnull` means no files at all.
    """
    path_type: type[PurePath] = PureWindowsPath if os_ is OS.WINDOWS else PurePosixPath
    home = path_type(home)
    base = pip_config_basename(os_)
    config_file = env.get("PIP_CONFIG_FILE")
    devnull = "nul" if os_ is OS.WINDOWS else "/dev/null"
    if config_file is not None and config_file.lower() in (devnull, os.devnull.lower()):
        return []
    found: list[ConfigFile] = []
    if os_ is OS.LINUX:
        xdg_dirs = [d for d in (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":") if d]
        found += [ConfigFile(ConfigKind.GLOBAL, path_type(d) / "pip" / base) for d in xdg_dirs]
        found.append(ConfigFile(ConfigKind.GLOBAL, path_type("/etc") / base))
    elif os_ is OS.MACOS:
        found.append(ConfigFile(ConfigKind.GLOBAL, path_type("/Library/Application Support/pip") / base))
    else:
        program_data = env.get("PROGRAMDATA") or env.get("ALLUSERSPROFILE") or r"C:\ProgramData"
        found.append(ConfigFile(ConfigKind.GLOBAL, path_type(program_data) / "pip" / base))
    if not (config_file and exists(config_file)):
        legacy = home / ("pip" if os_ is OS.WINDOWS else ".pip") / base
        found.append(ConfigFile(ConfigKind.USER, legacy))
        if os_ is OS.LINUX:
            xdg_home = env.get("XDG_CONFIG_HOME") or str(home / ".config")
            found.append(ConfigFile(ConfigKind.USER, path_type(xdg_home) / "pip" / base))
        elif os_ is OS.MACOS:
            app_support = home / "Library" / "Application Support" / "pip"
            user_dir = app_support if is_dir(str(app_support)) else home / ".config" / "pip"
            found.append(ConfigFile(ConfigKind.USER, user_dir / base))
        else:
            appdata = env.get("APPDATA") or str(home / "AppData" / "Roaming")
            found.append(ConfigFile(ConfigKind.USER, path_type(appdata) / "pip" / base))
    if prefix is not None:
        found.append(ConfigFile(ConfigKind.SITE, path_type(prefix) / base))
    if config_file:
        found.append(ConfigFile(ConfigKind.ENV, path_type(config_file)))
    return found


def site_prefix() -> PurePath:
    """pip's `site` configuration directory: `sys.prefix` (the virtual environment, if any)."""
    return PurePath(sys.prefix)
