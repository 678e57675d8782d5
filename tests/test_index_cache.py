"""Index pages are cached parsed (rows grouped by version + the page's validators), and read back
without parsing; a cache written by an earlier kresolve (rows without groups, or the page body
only) stays usable offline; a damaged entry is a miss, never a crash."""

import json
import zlib

import pytest
from localindex import make_wheel, serve, write_simple_index
from packaging.specifiers import SpecifierSet

from kresolve.artifact.facts import ModelFacts, ModelFormat
from kresolve.errors import IndexUnavailable
from kresolve.index import Index, IndexConfig
from kresolve.index.cache import Listing
from kresolve.index.filenames import file_version
from kresolve.index.simple import JSON_TYPE, ROW_FORMAT, DistFile, PageRows, ProjectFiles
from kresolve.rules.db import load_rules
from kresolve.rules.plan import plans_for
from kresolve.solve.resolve import solve
from kresolve.target import make_target

LINUX = "cp311-cp311-manylinux_2_17_x86_64"


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "repo"
    make_wheel(root / "files", "alpha", "1.0", requires_python=">=3.8")
    make_wheel(root / "files", "alpha", "1.1")
    write_simple_index(root)
    url, faults, server = serve(root)
    yield url + "/simple", faults
    server.shutdown()


def row(filename: str, digest: str = "1", base: str = "https://a.test/") -> list:
    return [filename, base + filename, digest * 64, None, False, False, None]


def page_path(cache, url: str, suffix: str):
    return cache._key_path("pages", url, suffix)


def test_a_fetched_page_is_stored_as_rows_and_read_offline_as_the_same_files(served, cache):
    url, faults = served
    online = Index(IndexConfig(url), cache, backoff=0)
    files = online.files("alpha")
    online.close()
    listing = cache.get_listing(f"{url}/alpha/", "alpha")
    assert listing is not None and [DistFile.from_row(r, url) for r in listing.rows] == files
    assert len(listing.body_sha256) == 64 and [g.text for g in listing.groups] == ["1.0", "1.1"]
    faults.hits.clear()
    offline = Index(IndexConfig(url), cache, offline=True)
    assert offline.files("alpha") == files  # equal files, index URL included
    versions = offline.project("alpha").versions("alpha")
    assert [str(v) for v in versions] == ["1.0", "1.1"] and versions[next(iter(versions))] == files[:1]
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
    assert page_path(cache, page, ".listing").is_file()  # stored in this format from then on
    offline.close()


def test_rows_without_version_groups_from_an_earlier_kresolve_are_converted(cache):
    url = "https://example.test/simple"
    page = f"{url}/alpha/"
    rows = [row("alpha-1.0-py3-none-any.whl"), row("alpha-1.0.tar.gz", "2"), row("alpha-2.0-py3-none-any.whl", "3")]
    old = {"format": ROW_FORMAT, "url": page, "content_type": "text/html", "etag": None, "body_sha256": "0" * 64,
           "fetched": 0.0, "max_age": 0, "files": rows}
    path = page_path(cache, page, ".rows.json")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(old))
    offline = Index(IndexConfig(url), cache, offline=True)
    assert [f.filename for f in offline.files("alpha")] == [r[0] for r in rows]
    versions = offline.project("alpha").versions("alpha")
    assert {str(v): [f.sha256[0] for f in fs] for v, fs in versions.items()} == {"1.0": ["1", "2"], "2.0": ["3"]}
    offline.close()
    listing = cache.get_listing(page, "alpha")
    assert listing is not None and page_path(cache, page, ".listing").is_file()
    assert [list(r) for r in listing.rows] == rows


def test_a_page_fetched_again_with_the_same_body_keeps_its_groups(cache):
    page = "https://example.test/simple/alpha/"
    body = json.dumps({"files": [{"filename": "alpha-1.0-py3-none-any.whl", "url": "https://files.example.test/alpha-1.0-py3-none-any.whl",
                                  "hashes": {"sha256": "b" * 64}, "upload-time": "2024-01-02T03:04:05Z"}]})
    first = cache.put_listing(page, body, JSON_TYPE, '"v1"', 600, "alpha")
    again = cache.put_listing(page, body, JSON_TYPE, '"v2"', 600, "alpha", previous=first)
    assert again.groups is first.groups and again.etag == '"v2"'
    (dist,) = again.files("https://example.test/simple")
    assert dist.upload_time == "2024-01-02T03:04:05Z" and dist.url == "https://files.example.test/alpha-1.0-py3-none-any.whl"
    renewed = cache.revalidated(again, 60)  # 304 Not Modified
    assert renewed.rows == again.rows and renewed.max_age == 60 and renewed.fresh()
    read = cache.get_listing(page, "alpha")
    assert read is not None and read.rows == again.rows and read.etag == '"v2"' and read.max_age == 60


def test_a_page_given_as_bytes_is_the_same_listing_as_its_text(cache):
    """The client hands a JSON page over as its bytes (no second copy as text): same rows and
    the same body digest, so a page cached from its text is still recognised as unchanged."""
    page = "https://example.test/simple/alpha/"
    body = json.dumps({"files": [{"filename": f"alpha-1.{i}-py3-none-any.whl", "url": f"https://x.test/alpha-1.{i}-py3-none-any.whl",
                                  "hashes": {"sha256": "e" * 64}, "requires-python": ">=3.8, caf\u00e9"} for i in range(3)]},
                      ensure_ascii=False)
    from_text = cache.put_listing(page, body, JSON_TYPE, None, 600, "alpha")
    from_bytes = cache.put_listing(page, body.encode(), JSON_TYPE, None, 600, "alpha")
    assert from_bytes.rows == from_text.rows and len(from_bytes.rows) == 3
    assert from_bytes.body_sha256 == from_text.body_sha256
    html = "".join(f"<a href='https://x.test/alpha-1.{i}.tar.gz#sha256={'c' * 64}'>x</a>" for i in range(2))
    assert cache.put_listing(page, html.encode(), "text/html", None, 600, "alpha").rows == \
        cache.put_listing(page, html, "text/html", None, 600, "alpha").rows


def test_an_unreadable_page_is_not_cached(cache):
    page = "https://example.test/simple/alpha/"
    with pytest.raises(ValueError):
        cache.put_listing(page, "{not json", JSON_TYPE, None, 600, "alpha")
    assert cache.get_listing(page, "alpha") is None


def test_a_damaged_or_truncated_entry_is_a_miss(cache):
    page = "https://example.test/simple/alpha/"
    body = "".join(f"<a href='https://x.test/alpha-1.{i}.tar.gz#sha256={'c' * 64}'>x</a>" for i in range(20))
    listing = cache.put_listing(page, body, "text/html", None, 600, "alpha")
    data = listing.encode()
    path = page_path(cache, page, ".listing")
    assert Listing.decode(data, page, "alpha") is not None
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x20
    for damaged in (data[: len(data) - 7], bytes(flipped), b"", b"\x00 damaged", data[:9] + b"{}\n[]"):
        assert Listing.decode(damaged, page, "alpha") is None
        path.write_bytes(damaged)
        assert cache.get_listing(page, "alpha") is None
        offline = Index(IndexConfig("https://example.test/simple"), cache, offline=True)
        with pytest.raises(IndexUnavailable, match="offline: no cached index page"):
            offline.files("alpha")
        offline.close()
    assert Listing.decode(data, page, "beta") is None  # another project's entry
    assert Listing.decode(data, "https://example.test/simple/beta/", "alpha") is None


def test_an_entry_written_by_the_json_encoder_of_earlier_kresolves_reads_the_same(cache):
    """Entries are now written by orjson (UTF-8 as is); an earlier kresolve wrote them with json
    (non-ASCII as \\u escapes). Both spellings of the same listing read as the same rows."""
    page = "https://example.test/simple/alpha/"
    body = json.dumps({"files": [{"filename": "alpha-1.0-py3-none-any.whl", "url": "https://x.test/alpha-1.0-py3-none-any.whl",
                                  "hashes": {"sha256": "d" * 64}, "requires-python": ">=3.8 \u2014 caf\u00e9"}]})
    listing = cache.put_listing(page, body, JSON_TYPE, '"\u00e9tag"', 600, "alpha")
    ours = listing.encode()
    assert "caf\u00e9".encode() in ours and b"\\u00e9" not in ours  # orjson writes UTF-8
    head, block = ours[9:].split(b"\n", 1)  # one version: one block
    header = json.loads(head)
    rows = json.loads(block)
    old_block = json.dumps(rows, separators=(",", ":")).encode()
    header["groups"][0][2:] = [0, len(old_block)]
    old_head = json.dumps(header, separators=(",", ":")).encode() + b"\n"
    old = b"%08x\n" % zlib.crc32(old_head + old_block) + old_head + old_block
    assert b"\\u00e9" in old
    decoded = Listing.decode(old, page, "alpha")
    assert decoded is not None and decoded[0].rows == listing.rows and decoded[0].etag == '"\u00e9tag"'
    assert decoded[0].rows[0][3] == ">=3.8 \u2014 caf\u00e9"


def test_groups_made_by_another_packaging_are_made_again_from_the_rows(cache, monkeypatch):
    page = "https://example.test/simple/alpha/"
    listing = cache.put_listing(page, "<a href='https://x.test/alpha-1.0.tar.gz#sha256=" + "c" * 64 + "'>x</a>", "text/html", None, 600,
                                "alpha")
    monkeypatch.setattr("kresolve.index.cache.GROUPING", "another")
    stale = listing.encode()
    monkeypatch.undo()
    page_path(cache, page, ".listing").write_bytes(stale)
    decoded = Listing.decode(stale, page, "alpha")
    assert decoded is not None and decoded[1] is True
    again = cache.get_listing(page, "alpha")
    assert again is not None and again.rows == listing.rows
    assert Listing.decode(page_path(cache, page, ".listing").read_bytes(), page, "alpha")[1] is False  # stored again


def test_project_files_merge_pages_first_index_first():
    first = PageRows.of((row("alpha-1.0-py3-none-any.whl"), [*row("alpha-1.1.tar.gz", "2")[:3], ">=3.8", False, False, None]),
                        "alpha", "https://a.test/simple")
    second = [DistFile("alpha-1.0-py3-none-any.whl", "file:///b/alpha-1.0-py3-none-any.whl", "3" * 64, index="file:///b"),
              DistFile("alpha-1.2-py3-none-any.whl", "file:///b/alpha-1.2-py3-none-any.whl", "4" * 64, index="file:///b")]
    project = ProjectFiles()
    project.add(first)
    project.add([])  # another index without the project
    project.add(second)
    assert [f.filename for f in project] == ["alpha-1.0-py3-none-any.whl", "alpha-1.1.tar.gz", "alpha-1.2-py3-none-any.whl"]
    assert project[0].sha256 == "1" * 64 and project[0].index == "https://a.test/simple"  # the first index wins
    assert project[-1] is second[1] and project[1].requires_python == ">=3.8"
    versions = project.versions("alpha")
    assert {str(v): [f.sha256[0] for f in fs] for v, fs in versions.items()} == {"1.0": ["1"], "1.1": ["2"], "1.2": ["4"]}
    assert versions[next(v for v in versions if str(v) == "1.2")][0] is second[1]
    with pytest.raises(IndexError):
        project[3]


def test_a_page_that_lists_a_file_twice_keeps_the_first():
    again = row("alpha-1.0-py3-none-any.whl", "2", "https://a.test/2/")
    project = ProjectFiles()
    project.add(PageRows.of((row("alpha-1.0-py3-none-any.whl"), again), "alpha", "https://a.test/simple"))
    assert len(project) == 1 and project[0].sha256 == "1" * 64
    (files,) = project.versions("alpha").values()
    assert [f.sha256 for f in files] == ["1" * 64]


def test_versions_are_what_each_filename_says_over_merged_parts():
    """The cached groups and the per-file path agree with grouping every file by file_version."""
    names = ["alpha-1.0-py3-none-any.whl", "alpha-1.0.0.tar.gz", "beta-1.0.tar.gz", "alpha-1.0-py3.egg",
             "alpha-2.0rc1-cp311-cp311-manylinux_2_17_x86_64.whl", "alpha-bad.tar.gz", "Alpha-1.0.zip", "alpha-0.9.tar.bz2",
             "alpha-1.0-1build-py3-none-any.whl", "alpha-1.0-x-py3-none-any.whl"]
    page = PageRows.of([row(n, str(i % 10)) for i, n in enumerate(names)], "alpha", "https://a.test/simple")
    later = [DistFile(n, "file:///b/" + n, "f" * 64, index="file:///b") for n in ("alpha-3.0.tar.gz", "alpha-1.0.tar.gz", names[0])]
    project = ProjectFiles()
    project.add(page)
    project.add(later)
    expected: dict = {}
    for f in project.all():
        v = file_version(f.filename, "alpha")
        if v is not None:
            expected.setdefault(v, []).append(f)
    versions = project.versions("alpha")
    assert list(versions) == list(expected)  # the same versions in the same order
    assert {v: versions[v] for v in versions} == expected  # "1.0" and "1.0.0" are one version, in file order
    other = ProjectFiles()  # asked for another name than the page's: read file by file
    other.add(page)
    assert [str(v) for v in other.versions("beta")] == ["1.0"]


def _world(tmp_path):
    files = tmp_path / "repo" / "files"
    make_wheel(files, "tensorflow", "2.13.1", requires=["numpy>=1.22", "six"], tag=LINUX)
    for v in ("1.24.4", "1.25.0", "1.26.4"):
        make_wheel(files, "numpy", v)
    make_wheel(files, "six", "1.16.0")
    write_simple_index(tmp_path / "repo")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "test.toml").write_text(
        '[[route]]\nid = "route-test-h5"\nformat = "keras-h5"\nwriter_keras = ">=2.0,<3"\nrank = 10\nloader = "tf.keras"\n'
        'requires = ["tensorflow<2.16"]\nreason = "test route"\nsource = "test:tests/test_index_cache.py"\n')
    return load_rules(tmp_path / "rules")


def test_a_warm_lock_gives_the_environment_of_the_cold_one(tmp_path, cache):
    rules = _world(tmp_path)
    url, faults, server = serve(tmp_path / "repo")
    try:
        facts = ModelFacts(path="m.h5", format=ModelFormat.H5, format_detail="", keras_version="2.13.0")
        target = make_target("3.11", "linux-64")
        envs = []
        for offline in (False, True, True):  # cold (fetches and stores), then twice from the cache
            index = Index(IndexConfig(url + "/simple"), cache, offline=offline, backoff=0)
            faults.hits.clear()
            envs.append(solve(plans_for(facts, rules), target, index, rules))
            index.close()
            assert offline is False or faults.hits == []
    finally:
        server.shutdown()
    pins = [[(p.name, p.version, [(f.filename, f.sha256) for f in p.files]) for p in env.pins] for env in envs]
    assert pins[0] == pins[1] == pins[2]
    assert {n: v for n, v, _ in pins[0]} == {"tensorflow": "2.13.1", "numpy": "1.26.4", "six": "1.16.0"}
    assert envs[0].pins == envs[1].pins  # the whole pins, distances included


def test_matches_read_from_the_cache_equal_the_fetched_ones(served, cache):
    from kresolve.solve.provider import Provider

    url, _faults = served
    found = []
    for offline in (False, True):
        index = Index(IndexConfig(url), cache, offline=offline, backoff=0)
        provider = Provider(index, make_target("3.11", "linux-64"), load_rules(), {})
        found.append(provider.matches("alpha", SpecifierSet()))
        index.close()
    assert found[0] == found[1] and [str(c.version) for c in found[0]] == ["1.1", "1.0"]


def test_parsed_metadata_is_stored_and_a_damaged_or_other_parser_entry_is_parsed_again(served, cache):
    from kresolve.index.client import DistMetadata

    url, _faults = served
    index = Index(IndexConfig(url), cache, backoff=0)
    dist = index.files("alpha")[0]
    meta = index.metadata(dist)
    index.close()
    entry = cache.get_metadata_entry(dist.sha256)
    assert entry is not None and DistMetadata.from_json(entry[0]) == meta and meta.requires_python == ">=3.8"
    stored, raw = entry
    assert cache.get_metadata(dist.sha256) == raw and b"Requires-Python: >=3.8" in raw
    path = cache._key_path("metadata", dist.sha256, ".meta")
    other = json.dumps(json.loads(stored) | {"parser": "another"}).encode()
    bad_type = json.dumps(json.loads(stored) | {"requires_dist": [1]}).encode()
    for damaged in (stored[:-3], b"", other, bad_type):
        assert DistMetadata.from_json(damaged) is None
        path.write_bytes(damaged + b"\n" + raw)
        offline = Index(IndexConfig(url), cache, offline=True)
        assert offline.metadata(offline.files("alpha")[0]) == meta  # from the METADATA bytes
        offline.close()
        assert cache.get_metadata_entry(dist.sha256) == (stored, raw)  # and stored parsed again
    path.unlink()  # an earlier kresolve's cache: the METADATA alone
    cache._key_path("metadata", dist.sha256, ".METADATA").write_bytes(raw)
    offline = Index(IndexConfig(url), cache, offline=True)
    assert offline.metadata(offline.files("alpha")[0]) == meta
    offline.close()
    assert cache.get_metadata_entry(dist.sha256) == (stored, raw)
    path.write_bytes(stored[:10])  # truncated inside the parsed line: the METADATA file is read instead
    assert cache.get_metadata_entry(dist.sha256) == (b"", raw)
