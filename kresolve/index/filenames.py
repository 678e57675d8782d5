"""Project names, versions and tags read from wheel and sdist filenames, with string operations.

The same checks as packaging.utils.parse_wheel_filename / parse_sdist_filename (a file they
refuse is not a candidate), done on strings and cached per distinct part: a lock sees ~50,000
filenames but a few hundred distinct names, versions and tag strings. The index cache groups a
page's files by `version_text` once, when the page is stored (cache.Listing).
"""

from __future__ import annotations

import re
from functools import lru_cache

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

_WHEEL_NAME = re.compile(r"^[\w\d._]*$", re.UNICODE)
_BUILD_TAG = re.compile(r"(\d+)(.*)")
SDIST_EXTENSIONS = (".tar.gz", ".zip", ".tar.bz2")


@lru_cache(maxsize=4096)
def _wheel_name(part: str) -> str | None:
    if "__" in part or not part or _WHEEL_NAME.match(part) is None:
        return None
    return canonicalize_name(part)


@lru_cache(maxsize=4096)
def _sdist_name(part: str) -> str:
    return canonicalize_name(part)


@lru_cache(maxsize=16384)
def parse_version(text: str) -> Version | None:
    """Version(text), None where packaging refuses it; cached (a lock meets a version many times)."""
    try:
        return Version(text)
    except InvalidVersion:
        return None


@lru_cache(maxsize=8192)
def wheel_tags(tags: str) -> tuple[tuple[str, str, str], ...]:
    """`cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64` → its (interpreter, abi, platform)
    triples, lower-cased as packaging.tags.Tag does; () for a tag string packaging refuses."""
    parts = [component.split(".") for component in tags.split("-")]
    if len(parts) != 3 or any("" in p for p in parts) or not all(i.isidentifier() for i in parts[0]):
        return ()
    return tuple((i.lower(), a.lower(), p.lower()) for i in parts[0] for a in parts[1] for p in parts[2])


def version_text(filename: str, name: str) -> str | None:
    """The version as a wheel or sdist of project `name` (canonical) spells it; None for another
    project's file, an unparsable name or version, or a file pip would not install."""
    if filename.endswith(".whl"):
        stem = filename[:-4]
        dashes = stem.count("-")
        if dashes not in (4, 5):
            return None
        parts = stem.split("-", dashes - 2)
        if _wheel_name(parts[0]) != name:
            return None
        if dashes == 5 and _BUILD_TAG.match(parts[2]) is None:
            return None
        if not wheel_tags(parts[-1]):
            return None
        text = parts[1]
    else:
        for ext in SDIST_EXTENSIONS:
            if filename.endswith(ext):
                prefix, _, text = filename[: -len(ext)].rpartition("-")
                if _sdist_name(prefix) != name:
                    return None
                break
        else:
            return None
    return text if parse_version(text) is not None else None


def file_version(filename: str, name: str) -> Version | None:
    """The version of a wheel or sdist of project `name` (canonical); None as for `version_text`."""
    text = version_text(filename, name)
    return None if text is None else parse_version(text)
