"""A local (file:) index page is parsed once per content: the parse is kept in the page cache,
keyed by the body's sha256, so an edited page is read again and an unwritable cache only costs
the parse."""

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
