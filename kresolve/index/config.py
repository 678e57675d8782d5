"""Which indexes to ask: pip's own configuration, read the way pip reads it."""

from __future__ import annotations

import configparser
import os
import sys
from dataclasses import dataclass
from pathlib import Path

PYPI_SIMPLE = "https://pypi.org/simple"


@dataclass(frozen=True)
class IndexConfig:
    index_url: str = PYPI_SIMPLE
    extra_index_urls: tuple[str, ...] = ()
    cert: str | None = None  # CA bundle, as pip's `cert`

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.index_url, *self.extra_index_urls)


def _pip_config_files(env: dict[str, str]) -> list[Path]:
    """pip's precedence, lowest first: global, user, site; PIP_CONFIG_FILE last."""
    files = [Path("/etc/pip.conf")]
    xdg_dirs = env.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    files += [Path(d) / "pip" / "pip.conf" for d in xdg_dirs if d]
    home = Path.home()
    files.append(home / ".pip" / "pip.conf")
    xdg_home = Path(env.get("XDG_CONFIG_HOME", home / ".config"))
    files.append(xdg_home / "pip" / "pip.conf")
    if sys.prefix != sys.base_prefix:
        files.append(Path(sys.prefix) / "pip.conf")
    if env.get("PIP_CONFIG_FILE") and env["PIP_CONFIG_FILE"] != os.devnull:
        files.append(Path(env["PIP_CONFIG_FILE"]))
    return files


def read_pip_config(env: dict[str, str] | None = None) -> IndexConfig:
    """Index settings from pip.conf files then PIP_* variables (which win, as in pip)."""
    env = dict(os.environ) if env is None else env
    values: dict[str, str] = {}
    if env.get("PIP_CONFIG_FILE") != os.devnull:
        for path in _pip_config_files(env):
            parser = configparser.RawConfigParser()
            try:
                parser.read(path, encoding="utf-8")
            except (OSError, configparser.Error):
                continue  # pip also skips unreadable files
            for section in ("global", "download", "install"):
                if parser.has_section(section):
                    values.update(parser.items(section))
    for key in ("index-url", "extra-index-url", "cert"):
        env_value = env.get("PIP_" + key.upper().replace("-", "_"))
        if env_value:
            values[key] = env_value
    extras = tuple(u.rstrip("/") for u in values.get("extra-index-url", "").split() if u)
    return IndexConfig(
        index_url=values.get("index-url", PYPI_SIMPLE).strip().rstrip("/"),
        extra_index_urls=extras,
        cert=values.get("cert") or None,
    )
