"""Requirement strings made into `packaging.requirements.Requirement`, fast for the plain ones.

A lock makes ~1,300 Requirements (the rules' ~600, and each candidate's Requires-Dist lines),
and packaging's parser takes ~0.1 ms each. Most are a name and a specifier, nothing else
("numpy>=1.23.5,<2.0.0"): those are made directly from the two parts, as packaging's parser
makes them; anything else (extras, a marker, a URL, parentheses, odd spacing) goes to the parser.
tests/test_requirements_fast.py holds the two ways to the same objects.
"""

from __future__ import annotations

import re
from functools import lru_cache

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

_SPEC = r"(?:===|~=|==|!=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+"
_PLAIN = re.compile(rf"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*({_SPEC}(?:\s*,\s*{_SPEC})*)?\s*")


def make_requirement(text: str) -> Requirement:
    """Requirement(text): the same object, InvalidRequirement for the same strings."""
    match = _PLAIN.fullmatch(text)
    if match is None:
        return Requirement(text)
    try:
        specifier = SpecifierSet(match.group(2) or "")
    except InvalidSpecifier:
        return Requirement(text)  # packaging's own error for it
    req = Requirement.__new__(Requirement)
    req.name = match.group(1)
    req.url = None
    req.extras = set()
    req.specifier = specifier
    req.marker = None
    return req


@lru_cache(maxsize=8192)
def parse_requirement(line: str) -> Requirement | None:
    """A METADATA Requires-Dist line, parsed once per process (several candidates, explain's
    re-solves and the page prefetch read the same lines); None: unparsable. Shared: its users
    never change it."""
    try:
        return make_requirement(line)
    except InvalidRequirement:
        return None
