"""METADATA / PKG-INFO and distribution file names, read by `packaging` (tolerant half): fields
real old wheels get wrong must not lose the ones the solver needs."""

from __future__ import annotations

import pytest

from kresolve.index.client import parse_metadata
from kresolve.index.sdist import DepsSource, SdistMetadata, split_sdist_filename
from kresolve.project.specs import dist_from_filename, version_from_url


def test_plain_metadata():
    meta = parse_metadata(b"Metadata-Version: 2.1\nName: Keras\nVersion: 2.3.1\nRequires-Python: >=3.6\n"
                          b"Requires-Dist: numpy>=1.9.1\nRequires-Dist: h5py ; extra == 'h5'\n"
                          b"Provides-Extra: H5_Extra\n\nLong description\nName: not a header\n")
    assert (meta.name, meta.version, meta.requires_python) == ("Keras", "2.3.1", ">=3.6")
    assert meta.requires_dist == ("numpy>=1.9.1", "h5py ; extra == 'h5'")
    assert meta.provides_extra == ("h5-extra",) and meta.unknown_dependencies is None


def test_invalid_fields_do_not_lose_the_needed_ones():
    # a repeated single-use field and undecodable bytes: the strict reader rejects both
    meta = parse_metadata(b"Metadata-Version: 2.1\nName: tensorflow\nName: tensorflow-gpu\nVersion: 1.15.0\n"
                          b"Author: Caf\xe9\nLicense-Expression: not a licence (\nRequires-Dist: six\n")
    assert (meta.name, meta.version, meta.requires_dist) == ("tensorflow", "1.15.0", ("six",))


def test_undecodable_name_is_text_not_a_header_object():
    assert parse_metadata(b"Name: \xff\xfe\nVersion: 1.0\n").name == "\xff\xfe"


def test_empty_metadata():
    meta = parse_metadata(b"")
    assert (meta.name, meta.version, meta.requires_python, meta.requires_dist) == ("", "", None, ())


def test_sdist_refusal_round_trips_through_metadata():
    stored = SdistMetadata("gast", "0.2.2", unknown="only setup.py knows").to_core_metadata()
    assert parse_metadata(stored).unknown_dependencies == "only setup.py knows"
    found = SdistMetadata("wrapt", "1.12.1", ">=3.5", ("six",), (), DepsSource.EGG_INFO).to_core_metadata()
    meta = parse_metadata(found)
    assert (meta.requires_python, meta.requires_dist, meta.unknown_dependencies) == (">=3.5", ("six",), None)


@pytest.mark.parametrize(("filename", "expected"), [
    ("gast-0.2.2.tar.gz", ("gast", "0.2.2")),
    ("Foo_Bar-1.0.zip", ("foo-bar", "1.0")),
    ("python-dateutil-2.8.2.tar.gz", ("python-dateutil", "2.8.2")),
    ("wrapt-1.12.1.tar.bz2", ("wrapt", "1.12.1")),
    ("legacy-1.0-beta.tar.gz", ("legacy-1.0", "beta")),  # not PEP 440: split at the last '-'
])
def test_sdist_file_names(filename, expected):
    assert split_sdist_filename(filename) == expected


@pytest.mark.parametrize(("filename", "expected"), [
    ("tensorflow_addons-0.9.1-cp37-cp37m-manylinux2010_x86_64.whl", ("tensorflow-addons", "0.9.1")),
    ("numpy-1.18.5-1-cp38-cp38-win_amd64.whl", ("numpy", "1.18.5")),  # with a build tag
    ("termcolor-1.1.0.tar.gz", ("termcolor", "1.1.0")),
    ("h5py-2.10.0.tar.bz2", ("h5py", "2.10.0")),
    ("not-a-wheel.whl", None),
    ("archive.tar.xz", None),
])
def test_project_file_urls_name_their_distribution(filename, expected):
    assert dist_from_filename(filename) == expected


def test_version_from_url_ignores_query_and_vcs():
    assert version_from_url("https://x.example/p/keras-2.3.1-py2.py3-none-any.whl?token=1") == "2.3.1"
    assert version_from_url("git+https://github.com/keras-team/keras.git@2.3.1") is None
