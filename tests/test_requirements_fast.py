"""make_requirement builds a plain requirement ("name" + specifiers) without packaging's parser:
it must give the object the parser gives, and refuse what the parser refuses."""

import pytest
from packaging.requirements import InvalidRequirement, Requirement

from kresolve.index.requirements import make_requirement, parse_requirement
from kresolve.rules.db import load_rules

STRINGS = [
    "numpy", "numpy>=1.23.5,<2.0.0", "numpy >= 1.23.5 , < 2.0.0", "Tensorflow_Intel==2.15.1", "tf-keras~=2.15.0",
    "a.b-c_d!=1.0.*", "x===1.0+local", "python<3.12", "pkg<=1!2.0.post1.dev3", "pkg>1.0rc1", "pkg==1.*", "pkg (>=1.0)",
    "pkg[extra]>=1", "pkg>=1; python_version < '3.12'", "pkg @ https://x.test/pkg.whl", "pkg>=1,", "pkg>=", "pkg>=1 <2",
    "-pkg>=1", "pkg-", "pkg>=1.0.", "pkg==1.0.*.1", "pkg~=1", "pkg>=1.0,<2.0,!=1.5", " pkg>=1", "pkg>=1 ", "", "pkg>=1;",
    "pkg=1.0", "pkg==v1.0", "pkg>=1.0-1", "pkg>=1.0_1", "pkg<2.0.0-rc1", "pkg>=1.0,,<2",
]


def same(text: str) -> None:
    try:
        expected = Requirement(text)
    except InvalidRequirement:
        with pytest.raises(InvalidRequirement):
            make_requirement(text)
        assert parse_requirement(text) is None
        return
    got = make_requirement(text)
    assert (got.name, got.url, got.extras, str(got.specifier), str(got.marker), str(got)) == (
        expected.name, expected.url, expected.extras, str(expected.specifier), str(expected.marker), str(expected))
    assert got == expected and hash(got) == hash(expected)
    assert [(s.operator, s.version, s.prereleases) for s in sorted(got.specifier, key=str)] == [
        (s.operator, s.version, s.prereleases) for s in sorted(expected.specifier, key=str)]


@pytest.mark.parametrize("text", STRINGS)
def test_a_requirement_is_what_packaging_makes_of_it(text):
    same(text)


def test_the_rules_requirements_are_what_packaging_makes_of_them():
    rules = load_rules()
    texts = {str(r) for c in rules.constraints for r in (c.when, *c.requires)}
    texts |= {str(r) for a in rules.accelerators for r in (a.when, *a.requires)}
    assert len(texts) > 50
    for text in sorted(texts):
        same(text)
