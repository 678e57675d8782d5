"""Index pages are cached parsed (rows + the page's validators), and read back without parsing;
a cache written by an earlier kresolve (the page body only) stays usable offline."""

import json

import pytest
from localindex import make_wheel, serve, write_simple_index

from kresolve.index import Index, IndexConfig
from kresolve.index.cache import Listing
from kresolve.index.simple import JSON_TYPE, ROW_FORMAT, DistFile, PageRows, ProjectFiles


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "repo"
    make_wheel(root / "files", "alpha", "1.0", requires_python=">=3.8")
    make_wheel(root / "files", "alpha", "1.1")
    write_simple_index(root)
    url, faults, server = serve(root)
    yield url + "/simple", faults
    server.shutdown()


def test_a_fetched_page_is_stored_as_rows_and_read_offline_as_the_same_files(served, cache):
    url, faults = served
    online = Index(IndexConfig(url), cache, backoff=0)
    files = online.files("alpha")
    online.close()
    listing = cache.get_listing(f"{url}/alpha/")
    assert listing is not None and [DistFile.from_row(r, url) for r in listing.rows] == files
    assert len(listing.body_sha256) == 64
    faults.hits.clear()
    offline = Index(IndexConfig(url), cache, offline=True)
    assert offline.files("alpha") == files  # equal files, index URL included
    assert faults.hits == []  # offline: nothing asked of the server
    offline.close()


def test_a_cache_of_page_bodies_from_an_earlier_kresolve_is_read_offline(served, cache):
    url, _faults = served
    page = f"{url}/alpha/"
    body = ('<a href="../../files/alpha-1.0-py3-none-any.whl#sha256=' + "a" * 64 + '" data-requires-python="&gt;=3.8">'
            "alpha-1.0-py3-none-any.whl</a>")
    cache.put_page(page, body, "text/html", None, 600)  # the body-only format
    offline = Index(IndexConfig(url), cache, offline=True)
    (dist,) = offline.files("alpha")
    assert dist.filename == "alpha-1.0-py3-none-any.whl" and dist.sha256 == "a" * 64
    assert dist.requires_python == ">=3.8" and dist.url.startswith(url.rsplit("/", 1)[0] + "/files/")
    assert cache.get_listing(page) is not None  # stored as rows from then on
    offline.close()


def test_a_page_fetched_again_with_the_same_body_keeps_its_rows(cache):
    page = "https://example.test/simple/alpha/"
    body = json.dumps({"files": [{"filename": "alpha-1.0-py3-none-any.whl", "url": "https://files.example.test/alpha-1.0-py3-none-any.whl",
                                  "hashes": {"sha256": "b" * 64}, "upload-time": "2024-01-02T03:04:05Z"}]})
    first = cache.put_listing(page, body, JSON_TYPE, '"v1"', 600)
    again = cache.put_listing(page, body, JSON_TYPE, '"v1"', 600, previous=first)
    assert again.rows is first.rows and again.etag == '"v1"'
    (dist,) = again.files("https://example.test/simple")
    assert dist.upload_time == "2024-01-02T03:04:05Z" and dist.url == "https://files.example.test/alpha-1.0-py3-none-any.whl"
    renewed = cache.revalidated(again, 60)  # 304 Not Modified
    assert renewed.rows == again.rows and renewed.max_age == 60 and renewed.fresh()


def test_an_unreadable_page_is_not_cached(cache):
    page = "https://example.test/simple/alpha/"
    with pytest.raises(ValueError):
        cache.put_listing(page, "{not json", JSON_TYPE, None, 600)
    assert cache.get_listing(page) is None


def test_rows_of_another_format_are_ignored(cache):
    page = "https://example.test/simple/alpha/"
    listing = cache.put_listing(page, "<a href='https://x.test/alpha-1.0.tar.gz#sha256=" + "c" * 64 + "'>x</a>", "text/html", None, 600)
    data = json.loads(listing.to_json())
    data["format"] = ROW_FORMAT + 1
    assert Listing.from_json(json.dumps(data).encode()) is None
    assert Listing.from_json(b"\x00 damaged") is None
    data["format"] = ROW_FORMAT
    data["files"][0] = data["files"][0][:3]
    assert Listing.from_json(json.dumps(data).encode()) is None


def test_project_files_merge_pages_first_index_first_and_group_by_filename():
    first = PageRows((["alpha-1.0-py3-none-any.whl", "https://a.test/alpha-1.0-py3-none-any.whl", "1" * 64, None, False, False, None],
                      ["alpha-1.1.tar.gz", "https://a.test/alpha-1.1.tar.gz", "2" * 64, ">=3.8", False, False, None]), "https://a.test/simple")
    second = [DistFile("alpha-1.0-py3-none-any.whl", "file:///b/alpha-1.0-py3-none-any.whl", "3" * 64, index="file:///b"),
              DistFile("alpha-1.2-py3-none-any.whl", "file:///b/alpha-1.2-py3-none-any.whl", "4" * 64, index="file:///b")]
    project = ProjectFiles()
    project.add(first)
    project.add(second)
    assert [f.filename for f in project] == ["alpha-1.0-py3-none-any.whl", "alpha-1.1.tar.gz", "alpha-1.2-py3-none-any.whl"]
    assert project[0].sha256 == "1" * 64 and project[0].index == "https://a.test/simple"  # the first index wins
    assert project[-1] is second[1] and project[1].requires_python == ">=3.8"
    groups = project.by_version(lambda name: name.split("-")[1].removesuffix(".tar.gz"))
    assert groups == {"1.0": [0], "1.1": [1], "1.2": [2]}
    with pytest.raises(IndexError):
        project[3]


def test_a_page_that_lists_a_file_twice_keeps_the_first():
    row = ["alpha-1.0-py3-none-any.whl", "https://a.test/1/alpha-1.0-py3-none-any.whl", "1" * 64, None, False, False, None]
    again = [row[0], "https://a.test/2/" + row[0], "2" * 64, None, False, False, None]
    project = ProjectFiles()
    project.add(PageRows((row, again), "https://a.test/simple"))
    assert len(project) == 1 and project[0].sha256 == "1" * 64
