"""The index client against a real HTTP server on 127.0.0.1 and real file:// indexes."""

import pytest
from localindex import make_wheel, serve, write_simple_index

from kresolve.errors import IndexUnavailable
from kresolve.index import Index, IndexConfig, read_pip_config


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "repo"
    make_wheel(root / "files", "alpha", "1.0", requires=["beta>=2"], requires_python=">=3.8")
    make_wheel(root / "files", "alpha", "1.1", requires=["beta>=2", "gamma; sys_platform == 'win32'"])
    make_wheel(root / "files", "beta", "2.0")
    write_simple_index(root)
    url, faults, server = serve(root)
    yield root, url + "/simple", faults
    server.shutdown()


def test_pip_config_files_and_env_vars(tmp_path):
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://mirror.example/simple/\nextra-index-url =\n  https://a.example/simple\n  https://b.example/simple\n")
    got = read_pip_config({"PIP_CONFIG_FILE": str(conf)})
    assert got.index_url == "https://mirror.example/simple"
    assert got.extra_index_urls[-2:] == ("https://a.example/simple", "https://b.example/simple")
    over = read_pip_config({"PIP_CONFIG_FILE": str(conf), "PIP_INDEX_URL": "https://env.example/simple"})
    assert over.index_url == "https://env.example/simple"


def test_project_files_with_hashes_and_metadata_by_range_requests(served, cache):
    _root, url, faults = served
    index = Index(IndexConfig(url), cache, backoff=0)
    files = index.files("Alpha")  # names are canonicalised
    assert sorted(f.filename for f in files) == ["alpha-1.0-py3-none-any.whl", "alpha-1.1-py3-none-any.whl"]
    assert all(len(f.sha256) == 64 for f in files)
    meta = index.metadata(next(f for f in files if "1.0" in f.filename))
    assert meta.requires_python == ">=3.8"
    assert meta.requires_dist == ("beta>=2",)
    assert index.stats["metadata_ranged"] == 1 and index.stats["metadata_downloaded"] == 0
    assert any(h for h in faults.hits if h.endswith(".whl"))


def test_metadata_falls_back_to_download_when_range_is_ignored(served, cache):
    _root, url, faults = served
    faults.ignore_range = True
    index = Index(IndexConfig(url), cache, backoff=0)
    meta = index.metadata(index.files("alpha")[0])
    assert meta.name == "alpha"
    assert index.stats["metadata_downloaded"] == 1


def test_metadata_is_cached_on_disk_and_offline_mode_uses_only_the_cache(served, cache):
    _root, url, faults = served
    warm = Index(IndexConfig(url), cache, backoff=0)
    dist = warm.files("alpha")[0]
    warm.metadata(dist)
    faults.hits.clear()
    offline = Index(IndexConfig(url), cache, offline=True)
    assert offline.metadata(offline.files("alpha")[0]).name == "alpha"
    assert faults.hits == []  # offline never touched the server
    with pytest.raises(IndexUnavailable, match="offline"):
        offline.files("beta")


def test_server_error_is_retried_then_reported_naming_the_index(served, cache):
    _root, url, faults = served
    faults.status_for["/simple/alpha/"] = 500
    index = Index(IndexConfig(url), cache, backoff=0)
    with pytest.raises(IndexUnavailable) as info:
        index.files("alpha")
    assert url in str(info.value) and "HTTP 500" in str(info.value)
    assert sum(1 for h in faults.hits if h == "/simple/alpha/") == 3


def test_unknown_project_is_empty_not_an_error(served, cache):
    _root, url, _faults = served
    assert Index(IndexConfig(url), cache, backoff=0).files("no-such-project") == []


def test_file_index_is_read_directly(tmp_path, cache):
    root = tmp_path / "repo"
    make_wheel(root / "files", "alpha", "1.0", requires=["beta"])
    write_simple_index(root)
    index = Index(IndexConfig((root / "simple").as_uri()), cache)
    files = index.files("alpha")
    assert [f.filename for f in files] == ["alpha-1.0-py3-none-any.whl"]
    assert index.metadata(files[0]).requires_dist == ("beta",)


def test_first_index_wins_for_a_duplicate_file(tmp_path, cache):
    for name in ("one", "two"):
        make_wheel(tmp_path / name / "files", "alpha", "1.0")
        write_simple_index(tmp_path / name)
    index = Index(IndexConfig((tmp_path / "one" / "simple").as_uri(), ((tmp_path / "two" / "simple").as_uri(),)), cache)
    files = index.files("alpha")
    assert len(files) == 1 and "/one/" in files[0].url


def test_close_waits_for_requests_in_flight_before_closing_their_connections(served, cache):
    """A page fetch is still running on a worker when the index is closed. close() must let it
    finish before closing the HTTP client: a socket closed under a worker frees its descriptor
    number, and the worker's next read then takes bytes from whatever file the main thread
    opened next (seen for real: a rules file that lost its first five bytes)."""
    _, url, faults = served
    faults.hold = True
    index = Index(IndexConfig(url), cache)
    index.prefetch(["alpha"])
    assert faults.received.wait(10), "the prefetch never reached the server"
    index.close()  # returns once the held response has been served (at most HOLD_LIMIT)
    running = list(index._files.values())
    assert running and all(f.done() for f in running)
    assert [d.filename for d in running[0].result()] == ["alpha-1.0-py3-none-any.whl", "alpha-1.1-py3-none-any.whl"]


def test_an_index_that_needs_no_network_reads_when_asked_in_the_asking_thread(served, cache, tmp_path):
    """Offline (or local-only), a page or METADATA is read by the thread that asks for it: no
    worker threads take turns with the solver for the GIL, and a prefetch reads nothing."""
    import threading

    _root, url, _faults = served
    warm = Index(IndexConfig(url), cache, backoff=0)
    assert warm.needs_network
    dist = warm.files("alpha")[0]
    warm.metadata(dist)
    warm.close()
    before = {t.ident for t in threading.enumerate()}
    offline = Index(IndexConfig(url), cache, offline=True)
    assert not offline.needs_network
    offline.prefetch(["alpha", "beta", "not-cached"])  # nothing is read, so nothing fails yet
    offline.prefetch_metadata([dist])
    assert offline.metadata(offline.files("alpha")[0]).name == "alpha"
    for _ in range(2):  # the same failure for every caller, as a worker's Future keeps it
        with pytest.raises(IndexUnavailable, match="offline: no cached index page for 'not-cached'"):
            offline.files("not-cached")
    assert {t.ident for t in threading.enumerate()} == before  # no worker thread was started
    offline.close()
    # Local indexes and --find-links directories need no network either; an HTTP find-links page does.
    local = tmp_path / "local"
    make_wheel(local / "files", "alpha", "1.0")
    write_simple_index(local)
    for find_links, networked in (((), False), ((str(local / "files"),), False), ((url,), True)):
        index = Index(IndexConfig((local / "simple").as_uri(), find_links=find_links), cache)
        assert index.needs_network is networked
        index.close()


def test_a_page_past_its_max_age_is_asked_for_again_and_a_fresh_one_is_not(served, cache):
    """With a network, a fresh cached page is read in the asking thread without a request; one
    past its max-age goes to a worker, which asks the index again."""
    _root, url, faults = served
    first = Index(IndexConfig(url), cache, backoff=0)
    names = [f.filename for f in first.files("alpha")]
    first.close()
    page = f"{url}/alpha/"
    faults.hits.clear()
    again = Index(IndexConfig(url), cache, backoff=0)
    assert [f.filename for f in again.files("alpha")] == names and faults.hits == []  # fresh: no request
    again.close()
    listing = cache.get_listing(page, "alpha")
    assert listing is not None
    cache.revalidated(listing, 0)  # stored again with max-age 0: stale from now on
    stale = Index(IndexConfig(url), cache, backoff=0)
    assert [f.filename for f in stale.files("alpha")] == names
    assert faults.hits == ["/simple/alpha/"]  # asked again, once
    stale.close()
