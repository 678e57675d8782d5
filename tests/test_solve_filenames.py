"""The provider reads names, versions and tags from filenames with string operations (a lock sees
~50,000 filenames); it must accept and refuse exactly what packaging's parsers do."""

import pytest
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from kresolve.index.filenames import file_version, wheel_tags

NAMES = [
    "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "numpy-1.26.4-cp311-cp311-win_amd64.whl",
    "tensorflow_intel-2.15.1-cp311-cp311-win_amd64.whl",
    "Tensorflow_Intel-2.15.1-cp311-cp311-win_amd64.whl",
    "six-1.16.0-py2.py3-none-any.whl",
    "pkg-1.0-1build-py3-none-any.whl",  # build tag
    "pkg-1.0-build-py3-none-any.whl",  # build tag must start with a digit
    "pkg-1.0-PY3-NONE-ANY.whl",  # tags are lower-cased
    "pkg-1.0-3py-none-any.whl",  # interpreter not an identifier
    "pkg-1.0-py3--any.whl",  # empty component
    "pkg-1.0-py3.-none-any.whl",
    "pkg-1.0-py3-none.whl",  # too few parts
    "pkg-1.0-a-b-py3-none-any.whl",  # too many parts
    "pkg-notaversion-py3-none-any.whl",
    "pk__g-1.0-py3-none-any.whl",
    "other-1.0-py3-none-any.whl",
    "pkg-1.0.tar.gz",
    "Pkg-1.0.zip",
    "pkg-1.0.tar.bz2",
    "pkg-1.0rc1.tar.gz",
    "pkg-bad.tar.gz",
    "pkg-1.0.exe",
    "pkg-1.0-py3.11.egg",
]


def packaging_version(filename: str, name: str) -> Version | None:
    """What the provider did before: packaging's parser per file."""
    try:
        if filename.endswith(".whl"):
            wheel_name, version, _, _ = parse_wheel_filename(filename)
            return version if wheel_name == name else None
        for ext in (".tar.gz", ".zip", ".tar.bz2"):
            if filename.endswith(ext):
                prefix, _, version = filename[: -len(ext)].rpartition("-")
                return Version(version) if canonicalize_name(prefix) == name else None
    except (InvalidWheelFilename, InvalidVersion):
        return None
    return None


@pytest.mark.parametrize("filename", NAMES)
@pytest.mark.parametrize("name", ["pkg", "numpy", "tensorflow-intel"])
def test_versions_match_packaging(filename, name):
    assert file_version(filename, name) == packaging_version(filename, name)


@pytest.mark.parametrize("filename", [n for n in NAMES if n.endswith(".whl")])
def test_tags_match_packaging(filename):
    try:
        expected = {(t.interpreter, t.abi, t.platform) for t in parse_wheel_filename(filename)[3]}
    except InvalidWheelFilename:
        expected = None
    tags = "-".join(filename[:-4].rsplit("-", 3)[-3:])
    if expected is not None:
        assert set(wheel_tags(tags)) == expected
    elif file_version(filename, canonicalize_name(filename.split("-")[0])) is not None:
        pytest.fail(f"{filename} is accepted but packaging refuses it")
