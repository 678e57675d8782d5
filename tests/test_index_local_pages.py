"""A local (file:) index page is parsed once per content: the parse is kept in the page cache,
keyed by the body's sha256, so an edited page is read again and an unwritable cache only costs
the parse. A --find-links directory's file is hashed once per path, size and modification time."""

import hashlib
import os

from localindex import make_wheel, write_simple_index

from kresolve.index import Index, IndexConfig
from kresolve.index.cache import Cache


def local_index(tmp_path, *versions: str) -> str:
    root = tmp_path / "repo"
    for version in versions:
        make_wheel(root / "files", "alpha", version)
    write_simple_index(root)
    return (root / "simple").as_uri()


def filenames(url: str, cache: Cache) -> list[str]:
    index = Index(IndexConfig(index_url=url), cache=cache, offline=True)
    try:
        return [f.filename for f in index.files("alpha")]
    finally:
        index.close()


def test_a_local_page_is_kept_parsed_and_read_again_when_it_changes(tmp_path):
    url = local_index(tmp_path, "1.0")
    cache = Cache(tmp_path / "cache")
    first = filenames(url, cache)
    assert first == ["alpha-1.0-py3-none-any.whl"]
    stored = cache.get_listing(f"{url}/alpha/", "alpha")
    assert stored is not None and [r[0] for r in stored.rows] == first
    assert filenames(url, cache) == first  # from the stored parse

    url = local_index(tmp_path, "1.0", "2.0")  # the page is rewritten with a second file
    assert filenames(url, cache) == ["alpha-1.0-py3-none-any.whl", "alpha-2.0-py3-none-any.whl"]


def test_an_unwritable_cache_still_reads_local_pages(tmp_path):
    url = local_index(tmp_path, "1.0")
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache directory would be")
    assert filenames(url, Cache(blocked)) == ["alpha-1.0-py3-none-any.whl"]
    assert blocked.is_file() and os.path.getsize(blocked) > 0


# -- --find-links directories: listed once per Index, each file's sha256 kept by path, size and mtime

def find_links_files(wheels, cache: Cache, name: str = "alpha") -> list[tuple[str, str | None]]:
    index = Index(IndexConfig(no_index=True, find_links=(str(wheels),)), cache=cache)
    try:
        return [(f.filename, f.sha256) for f in index.files(name)]
    finally:
        index.close()


def test_a_find_links_file_is_hashed_once_and_again_when_it_changes(tmp_path):
    wheels = tmp_path / "wheels"
    wheel = make_wheel(wheels, "alpha", "1.0")
    make_wheel(wheels, "beta", "1.0")
    cache = Cache(tmp_path / "cache")
    truth = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert find_links_files(wheels, cache) == [(wheel.name, truth)]
    st = wheel.resolve().stat()
    assert cache.get_file_hash(wheel.resolve(), st) == truth  # kept: the next lock does not hash it

    # The kept hash is what a later lock uses while the file is unchanged...
    cache.put_file_hash(wheel.resolve(), st, "0" * 64)
    assert find_links_files(wheels, cache) == [(wheel.name, "0" * 64)]
    # ...and a rewritten file (another size or modification time) is hashed again.
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    os.utime(wheel, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    again = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert again != truth and find_links_files(wheels, cache) == [(wheel.name, again)]
    # Each project gets its own files from the one listing; a damaged kept hash is not used.
    assert [f for f, _ in find_links_files(wheels, cache, "beta")] == ["beta-1.0-py3-none-any.whl"]
    hashes = list((tmp_path / "cache" / "filehashes").rglob("*.sha256"))
    for path in hashes:
        path.write_text("not a hash")
    assert find_links_files(wheels, cache) == [(wheel.name, again)]


def test_an_unwritable_cache_still_hashes_find_links_files(tmp_path):
    wheel = make_wheel(tmp_path / "wheels", "alpha", "1.0")
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache directory would be")
    assert find_links_files(tmp_path / "wheels", Cache(blocked)) == [
        (wheel.name, hashlib.sha256(wheel.read_bytes()).hexdigest())]
