"""Which indexes to ask: pip's own configuration, read the way pip reads it."""

from __future__ import annotations

import configparser
import enum
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.utils import canonicalize_name

from ..paths import current_os, pip_config_files, site_prefix

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
    """pip's index options: `--index-url`, `--extra-index-url`, `--find-links`, `--no-index`."""

    index_url: str = PYPI_SIMPLE
    extra_index_urls: tuple[str, ...] = ()
    cert: str | None = None  # CA bundle, as pip's `cert`
    formats: FormatControl = field(default_factory=FormatControl)  # pip's only-binary / no-binary
    find_links: tuple[str, ...] = ()  # local directories of wheels/sdists, or HTML pages of links (URL or file)
    no_index: bool = False  # ignore the indexes: only find_links

    def with_formats(self, only_binary: tuple[str, ...] = (), no_binary: tuple[str, ...] = ()) -> IndexConfig:
        return replace(self, formats=self.formats.with_options(only_binary, no_binary))

    def with_options(self, index_url: str | None = None, extra_index_urls: tuple[str, ...] = (),
                     find_links: tuple[str, ...] = (), no_index: bool = False) -> IndexConfig:
        """Command-line values over the configuration, as pip applies them: `--index-url`
        replaces; `--extra-index-url` and `--find-links` add to the configured ones; `--no-index`
        drops every index (find-links only)."""
        extras = tuple(dict.fromkeys((*self.extra_index_urls, *(u.rstrip("/") for u in extra_index_urls))))
        return replace(
            self,
            index_url=index_url.rstrip("/") if index_url else self.index_url,
            extra_index_urls=extras,
            find_links=tuple(dict.fromkeys((*self.find_links, *find_links))),
            no_index=self.no_index or no_index,
        )

    @property
    def urls(self) -> tuple[str, ...]:
        """The indexes asked, in pip's order; none under `no_index`."""
        return () if self.no_index else (self.index_url, *self.extra_index_urls)

    def pip_args(self) -> list[str]:
        """The same options for a pip/uv command line (the smoke test's installer)."""
        args = ["--no-index"] if self.no_index else ["--index-url", self.index_url]
        if not self.no_index:
            args += [a for u in self.extra_index_urls for a in ("--extra-index-url", u)]
        args += [a for f in self.find_links for a in ("--find-links", f)]
        return args


def pip_config_paths(env: dict[str, str]) -> list[Path]:
    """pip's files for this OS, lowest priority first (kresolve/paths.py)."""
    return [Path(f.path) for f in pip_config_files(current_os(), env, Path.home(), site_prefix())]


def _truthy(text: str) -> bool:
    """pip's strtobool for boolean options in files and PIP_* variables."""
    return text.strip().lower() in ("1", "y", "yes", "t", "true", "on")


def read_pip_config(env: dict[str, str] | None = None) -> IndexConfig:
    """Index settings from pip.conf files then PIP_* variables (which win, as in pip)."""
    env = dict(os.environ) if env is None else env
    values: dict[str, str] = {}
    for path in pip_config_paths(env):
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (OSError, configparser.Error):
            continue  # pip also skips unreadable files
        for section in ("global", "download", "install"):
            if parser.has_section(section):
                values.update(parser.items(section))
    for key in ("index-url", "extra-index-url", "cert", "only-binary", "no-binary", "find-links", "no-index"):
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
        find_links=tuple(values.get("find-links", "").split()),
        no_index=_truthy(values.get("no-index", "")),
    )
