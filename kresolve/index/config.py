"""Which indexes to ask: pip's own configuration, read the way pip reads it."""

from __future__ import annotations

import configparser
import enum
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.utils import canonicalize_name

PYPI_SIMPLE = "https://pypi.org/simple"
ALL, NONE = ":all:", ":none:"


class Format(enum.Enum):
    BINARY = "binary"  # wheels
    SOURCE = "source"  # sdists, built at install time


@dataclass(frozen=True)
class FormatControl:
    """pip's --only-binary / --no-binary: which kinds of file may be used, per package."""

    only_binary: frozenset[str] = frozenset()
    no_binary: frozenset[str] = frozenset()

    def allowed(self, name: str) -> frozenset[Format]:
        """pip's FormatControl.get_allowed_formats: a named package beats :all:."""
        name = canonicalize_name(name)
        if name in self.only_binary:
            return frozenset({Format.BINARY})
        if name in self.no_binary:
            return frozenset({Format.SOURCE})
        if ALL in self.only_binary:
            return frozenset({Format.BINARY})
        if ALL in self.no_binary:
            return frozenset({Format.SOURCE})
        return frozenset(Format)

    def with_options(self, only_binary: tuple[str, ...] = (), no_binary: tuple[str, ...] = ()) -> FormatControl:
        """Add command-line values (comma-separated names, :all:, :none:) as pip does, except
        that order does not matter: :all:/:none: apply first, so a named package always wins."""
        only, no = set(self.only_binary), set(self.no_binary)
        values = {"only": _split(only_binary), "no": _split(no_binary)}
        both = (values["only"] & values["no"]) - {ALL, NONE}
        if both:
            raise ValueError(f"{', '.join(sorted(both))} named by both --only-binary and --no-binary")
        for kind, mine, other in (("only", only, no), ("no", no, only)):
            if NONE in values[kind]:
                mine.clear()
            if ALL in values[kind]:
                mine.clear()
                other.clear()
                mine.add(ALL)
        for kind, mine, other in (("only", only, no), ("no", no, only)):
            for name in values[kind] - {ALL, NONE}:
                mine.add(name)
                other.discard(name)
        return FormatControl(frozenset(only), frozenset(no))


def _split(values: tuple[str, ...] | list[str]) -> set[str]:
    return {v if v in (ALL, NONE) else canonicalize_name(v) for item in values for v in item.split(",") if v.strip()}


@dataclass(frozen=True)
class IndexConfig:
    index_url: str = PYPI_SIMPLE
    extra_index_urls: tuple[str, ...] = ()
    cert: str | None = None  # CA bundle, as pip's `cert`
    formats: FormatControl = field(default_factory=FormatControl)  # pip's only-binary / no-binary

    def with_formats(self, only_binary: tuple[str, ...] = (), no_binary: tuple[str, ...] = ()) -> IndexConfig:
        return replace(self, formats=self.formats.with_options(only_binary, no_binary))

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
    for key in ("index-url", "extra-index-url", "cert", "only-binary", "no-binary"):
        env_value = env.get("PIP_" + key.upper().replace("-", "_"))
        if env_value:
            values[key] = env_value
    extras = tuple(u.rstrip("/") for u in values.get("extra-index-url", "").split() if u)
    return IndexConfig(
        index_url=values.get("index-url", PYPI_SIMPLE).strip().rstrip("/"),
        extra_index_urls=extras,
        cert=values.get("cert") or None,
        formats=FormatControl().with_options(tuple(values.get("only-binary", "").split()),
                                             tuple(values.get("no-binary", "").split())),
    )
