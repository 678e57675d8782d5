"""Parse a simple-repository project page (PEP 503 HTML or PEP 691 JSON) into files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


@dataclass(frozen=True)
class DistFile:
    filename: str
    url: str  # without the #fragment
    sha256: str | None
    requires_python: str | None = None
    yanked: bool = False
    has_core_metadata: bool = False  # PEP 658/714: `url + ".metadata"` exists
    index: str = ""  # the index URL this file was listed by
    upload_time: str | None = None  # PEP 700 `upload-time` (ISO 8601, UTC) where the index gives it


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, str | None]] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base":
            self.base = dict(attrs).get("href") or self.base
        elif tag == "a":
            self.anchors.append(dict(attrs))


def _hash_from_fragment(fragment: str) -> str | None:
    name, _, value = fragment.partition("=")
    return value.lower() if name == "sha256" and value else None


def parse_html(body: str, page_url: str, index: str = "") -> list[DistFile]:
    parser = _LinkParser()
    parser.feed(body)
    base = urljoin(page_url, parser.base) if parser.base else page_url
    files = []
    for attrs in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, fragment = urldefrag(urljoin(base, href))
        filename = url.rsplit("/", 1)[-1]
        core = attrs.get("data-core-metadata") or attrs.get("data-dist-info-metadata")
        files.append(
            DistFile(
                filename=unescape(filename),
                url=url,
                sha256=_hash_from_fragment(fragment),
                requires_python=unescape(attrs["data-requires-python"]) if attrs.get("data-requires-python") else None,
                yanked="data-yanked" in attrs,
                has_core_metadata=bool(core) and core != "false",
                index=index,
            )
        )
    return files


def parse_json(body: str, page_url: str, index: str = "") -> list[DistFile]:
    data = json.loads(body)
    files = []
    for entry in data.get("files", []):
        url, _ = urldefrag(urljoin(page_url, entry["url"]))
        core = entry.get("core-metadata", entry.get("dist-info-metadata", False))
        files.append(
            DistFile(
                filename=entry["filename"],
                url=url,
                sha256=(entry.get("hashes") or {}).get("sha256"),
                requires_python=entry.get("requires-python"),
                yanked=bool(entry.get("yanked")),
                has_core_metadata=bool(core),
                index=index,
                upload_time=entry.get("upload-time") if isinstance(entry.get("upload-time"), str) else None,
            )
        )
    return files


def parse_page(body: str, content_type: str, page_url: str, index: str = "") -> list[DistFile]:
    if content_type.split(";")[0].strip() == JSON_TYPE:
        return parse_json(body, page_url, index)
    return parse_html(body, page_url, index)
