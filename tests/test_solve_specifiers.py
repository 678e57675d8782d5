"""The provider asks each requirement's specifier on its own instead of their intersection (so the
answers carry over as criteria narrow): that must be what the intersection says, for every kind
of specifier and version packaging knows."""

import itertools

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from kresolve.rules.db import load_rules

VERSIONS = ["0.9", "1.0", "1.0.0", "1.0.post1", "1.0rc1", "1.0.dev0", "1.0+local", "1.1", "1.1a1", "1.19.5", "1.20.3",
            "2.0", "2.0.0.0", "2.15.1", "2.16.0rc0", "3!1.0", "1.0.post1.dev2"]
SPECS = ["", ">=1.0", "<1.1", "<=1.0", ">1.0", "==1.0", "!=1.0", "==1.*", "!=1.0.*", "~=1.0", "~=1.19.0", "===1.0", "<2.0.0",
         ">1.0.post1", "<1.0rc1", ">=1.0.dev0", ">=1.16,<1.20", "==2.15.*,!=2.15.0", "<3!0"]


def test_each_specifier_on_its_own_is_their_intersection():
    versions = [Version(v) for v in VERSIONS]
    for a, b in itertools.product(SPECS, repeat=2):
        left, right = SpecifierSet(a), SpecifierSet(b)
        both = left & right
        for v in versions:
            assert both.contains(v, prereleases=True) == (left.contains(v, prereleases=True)
                                                          and right.contains(v, prereleases=True)), (a, b, v)


def test_the_rules_specifiers_on_their_own_are_their_intersection():
    rules = load_rules()
    found = {str(r.specifier) for c in rules.constraints for r in (c.when, *c.requires)}
    found |= {str(d.versions) for d in rules.distributions}
    specs = sorted(found)[:60]
    versions = [Version(v) for v in VERSIONS]
    for a, b in itertools.combinations(specs, 2):
        left, right = SpecifierSet(a), SpecifierSet(b)
        both = left & right
        for v in versions:
            assert both.contains(v, prereleases=True) == (left.contains(v, prereleases=True)
                                                          and right.contains(v, prereleases=True)), (a, b, v)
