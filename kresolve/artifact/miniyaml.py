"""A small, safe reader for the YAML that conda environment files are written in.

Supports block mappings and sequences (a sequence may sit at its key's own indentation, as
`conda env export` writes it), `- key: value` items, plain / single- / double-quoted scalars,
flow sequences `[a, b]` and flat flow mappings `{a: b}`, `|` / `>` block scalars, comments and
a leading `---`. Every scalar stays a string ("3.10" is not the float 3.1). Anchors, aliases,
tags, complex keys and multi-document streams raise YamlError: nothing is ever constructed
from a tag, so a hostile file can only fail to parse.
"""

from __future__ import annotations

import re
from typing import Any

_MAX_DEPTH = 64
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "/": "/", " ": " "}
_KEY_END = re.compile(r":(?=\s|$)")


class YamlError(ValueError):
    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


class _Line:
    __slots__ = ("number", "indent", "text", "raw")

    def __init__(self, number: int, indent: int, text: str, raw: str) -> None:
        self.number, self.indent, self.text, self.raw = number, indent, text, raw


def load(text: str) -> Any:
    """The document's value (dict, list, str or None for an empty document)."""
    lines = _lines(text)
    if not lines:
        return None
    parser = _Parser(lines)
    value = parser.node(lines[0].indent, 0)
    if parser.at < len(lines):
        line = lines[parser.at]
        raise YamlError(line.number, f"unexpected content {line.text[:40]!r}")
    return value


def _lines(text: str) -> list[_Line]:
    out: list[_Line] = []
    started = False
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.lstrip(" ")
        content = _strip_comment(stripped).rstrip()
        if not content.strip():
            out.append(_Line(number, -1, "", raw))  # kept for block scalars, skipped otherwise
            continue
        if stripped.startswith("\t"):
            raise YamlError(number, "tab used for indentation")
        if content.startswith("%"):
            if started:
                raise YamlError(number, "directive after content")
            continue
        if content in ("---", "...") or content.startswith("--- "):
            if started and content != "...":
                raise YamlError(number, "more than one YAML document")
            if content.startswith("--- "):
                raise YamlError(number, "content on the document marker line is not supported")
            continue
        started = True
        out.append(_Line(number, len(raw) - len(stripped), content, raw))
    return out


def _strip_comment(text: str) -> str:
    """Drop a `#` comment; quotes only count where a scalar may start."""
    quote = None
    scalar_start = True
    i = 0
    while i < len(text):
        ch = text[i]
        if quote == '"':
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                quote = None
        elif quote == "'":
            if ch == "'":
                if text[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                quote = None
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            return text[:i]
        elif ch in "\"'" and scalar_start:
            quote = ch
        if quote is None:
            if ch in "[{,":
                scalar_start = True
            elif ch in " \t":
                scalar_start = scalar_start or (i > 0 and text[i - 1] in ":-")
            else:
                scalar_start = False
                if ch in ":-" and i + 1 < len(text) and text[i + 1] in " \t":
                    scalar_start = True
        i += 1
    return text


class _Parser:
    def __init__(self, lines: list[_Line]) -> None:
        self.lines = lines
        self.at = 0

    def _skip_blank(self) -> None:
        while self.at < len(self.lines) and self.lines[self.at].indent < 0:
            self.at += 1

    def _peek(self) -> _Line | None:
        self._skip_blank()
        return self.lines[self.at] if self.at < len(self.lines) else None

    def node(self, indent: int, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise YamlError(self.lines[self.at].number, "nested too deeply")
        line = self._peek()
        if line is None or line.indent < indent:
            return None
        if _is_item(line.text):
            return self.sequence(line.indent, depth)
        if _KEY_END.search(line.text) and not line.text.startswith(("[", "{", '"', "'")) \
                or _quoted_key(line.text):
            return self.mapping(line.indent, depth)
        self.at += 1
        value = _scalar(line.text, line.number)
        after = self._peek()
        if after is not None and after.indent > line.indent:
            raise YamlError(after.number, "multi-line plain scalars are not supported")
        return value

    def sequence(self, indent: int, depth: int) -> list[Any]:
        items: list[Any] = []
        while (line := self._peek()) is not None and line.indent == indent and _is_item(line.text):
            rest = line.text[1:].lstrip(" ")
            if not rest:
                self.at += 1
                nxt = self._peek()
                items.append(self.node(indent + 1, depth + 1) if nxt and nxt.indent > indent else None)
                continue
            column = indent + len(line.text) - len(rest)
            if _is_item(rest) or (_KEY_END.search(rest) and not rest.startswith(("[", "{", '"', "'"))) \
                    or _quoted_key(rest):
                # "- key: value" / "- - x": the item is a block starting at `column`
                self.lines[self.at] = _Line(line.number, column, rest, line.raw)
                items.append(self.node(column, depth + 1))
                continue
            self.at += 1
            items.append(self._value(rest, line, depth))
        line = self._peek()
        if line is not None and line.indent > indent:
            raise YamlError(line.number, "unexpected indentation")
        return items

    def mapping(self, indent: int, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while (line := self._peek()) is not None and line.indent == indent and not _is_item(line.text):
            key, rest = _split_key(line.text, line.number)
            self.at += 1
            if rest:
                result[key] = self._value(rest, line, depth)
                continue
            nxt = self._peek()
            if nxt is not None and nxt.indent > indent:
                result[key] = self.node(nxt.indent, depth + 1)
            elif nxt is not None and nxt.indent == indent and _is_item(nxt.text):
                result[key] = self.sequence(indent, depth + 1)
            else:
                result[key] = None
        line = self._peek()
        if line is not None and line.indent > indent:
            raise YamlError(line.number, "unexpected indentation")
        return result

    def _value(self, text: str, line: _Line, depth: int) -> Any:
        """An inline value; a block scalar indicator takes the more-indented lines after it."""
        if re.fullmatch(r"[|>][+-]?\d?", text):
            parts = []
            while self.at < len(self.lines) and (
                self.lines[self.at].indent < 0 or self.lines[self.at].indent > line.indent
            ):
                parts.append(self.lines[self.at].raw.strip())
                self.at += 1
            joiner = "\n" if text[0] == "|" else " "
            return joiner.join(parts).strip()
        value = _scalar(text, line.number)
        nxt = self._peek()
        if nxt is not None and nxt.indent > line.indent and not isinstance(value, (list, dict)):
            raise YamlError(nxt.number, "multi-line plain scalars are not supported")
        return value


def _is_item(text: str) -> bool:
    return text == "-" or text.startswith("- ")


def _quoted_key(text: str) -> bool:
    if not text or text[0] not in "\"'":
        return False
    end = _closing_quote(text, text[0])
    return end is not None and text[end + 1 : end + 2] == ":"


def _split_key(text: str, number: int) -> tuple[str, str]:
    if text.startswith("? "):
        raise YamlError(number, "complex mapping keys are not supported")
    if text[0] in "\"'":
        end = _closing_quote(text, text[0])
        if end is None or text[end + 1 : end + 2] != ":":
            raise YamlError(number, "expected 'key: value'")
        key = _scalar(text[: end + 1], number)
        return key, text[end + 2 :].strip()
    match = _KEY_END.search(text)
    if match is None:
        raise YamlError(number, f"expected 'key: value', got {text[:40]!r}")
    key = text[: match.start()].strip()
    if key.startswith(("&", "*", "!")):
        raise YamlError(number, "anchors, aliases and tags are not supported")
    return key, text[match.end() :].strip()


def _closing_quote(text: str, quote: str) -> int | None:
    i = 1
    while i < len(text):
        ch = text[i]
        if quote == '"' and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if quote == "'" and text[i + 1 : i + 2] == "'":
                i += 2
                continue
            return i
        i += 1
    return None


def _scalar(text: str, number: int) -> Any:
    text = text.strip()
    if not text:
        return None
    first = text[0]
    if first in "&*!":
        raise YamlError(number, "anchors, aliases and tags are not supported")
    if first in "\"'":
        end = _closing_quote(text, first)
        if end is None:
            raise YamlError(number, "unterminated quoted string (multi-line quotes are not supported)")
        if text[end + 1 :].strip():
            raise YamlError(number, f"text after a quoted string: {text[end + 1:][:20]!r}")
        body = text[1:end]
        if first == "'":
            return body.replace("''", "'")
        return _unescape(body, number)
    if first == "[":
        if not text.endswith("]"):
            raise YamlError(number, "unterminated flow sequence")
        return [_scalar(item, number) for item in _flow_items(text[1:-1], number)]
    if first == "{":
        if not text.endswith("}"):
            raise YamlError(number, "unterminated flow mapping")
        result = {}
        for item in _flow_items(text[1:-1], number):
            key, value = _split_key(item, number)
            result[key] = _scalar(value, number)
        return result
    if first in "|>":
        raise YamlError(number, "block scalar indicator in an unsupported place")
    return text


def _flow_items(body: str, number: int) -> list[str]:
    items, current, quote, level = [], [], None, 0
    i = 0
    while i < len(body):
        ch = body[i]
        if quote:
            current.append(ch)
            if quote == '"' and ch == "\\" and i + 1 < len(body):
                current.append(body[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'" and not "".join(current).strip():
            quote = ch
            current.append(ch)
        elif ch in "[{":
            raise YamlError(number, "nested flow collections are not supported")
        elif ch == "," and level == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    if quote:
        raise YamlError(number, "unterminated quoted string in a flow collection")
    tail = "".join(current).strip()
    if tail:
        items.append(tail)
    return [item for item in items if item]


def _unescape(body: str, number: int) -> str:
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        code = body[i + 1 : i + 2]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            i += 2
        elif code in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[code]
            digits = body[i + 2 : i + 2 + width]
            try:
                out.append(chr(int(digits, 16)))
            except ValueError:
                raise YamlError(number, f"bad escape \\{code}{digits}") from None
            i += 2 + width
        else:
            raise YamlError(number, f"unknown escape \\{code}")
    return "".join(out)
