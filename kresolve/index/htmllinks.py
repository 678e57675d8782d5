"""The anchors of a PEP 503 HTML page. Its own module: a warm lock reads its pages from the cache
(index/cache.py) and never imports html.parser."""

from __future__ import annotations

from html.parser import HTMLParser


class LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, str | None]] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base":
            self.base = dict(attrs).get("href") or self.base
        elif tag == "a":
            self.anchors.append(dict(attrs))
