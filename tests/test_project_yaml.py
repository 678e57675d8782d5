"""The YAML reader for project files: PyYAML's safe loader with the limits untrusted files need
(no aliases or anchors, no tags, bounded nesting and size, every scalar kept as written), and
how its refusals reach the user: a note on the evidence, never an error.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kresolve.project import ProjectKind, project_evidence
from kresolve.project.safe_yaml import MAX_DEPTH, YamlError, load

# "billion laughs": nine levels of ten aliases each; expanded, dependencies holds 10**9 strings
# and turning it into text (as a note on an unexpected entry would) never finishes.
BOMB = 'lol: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 10)
) + "dependencies:\n  - python=3.8\n  - *l9\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    return root


def evidence_of(repo: Path, kind: str):
    (found,) = [e for e in project_evidence(repo / "model.h5") if e.kind == kind]
    return found


def test_alias_bomb_is_refused_at_the_first_anchor(repo):
    write(repo / "environment.yml", BOMB)
    env = evidence_of(repo, ProjectKind.CONDA_ENV)
    assert env.packages == () and env.python is None
    assert env.notes == ("environment.yml: not parsed (line 1: anchors, aliases and tags are not supported)",)


def test_an_alias_alone_is_refused_too():
    with pytest.raises(YamlError, match="anchors, aliases and tags") as caught:
        load("dependencies:\n  - python=3.8\n  - *nowhere\n")
    assert caught.value.line == 3


@pytest.mark.parametrize("text", [
    "dependencies: !!python/object/apply:os.system ['echo hi']\n",
    "python: !!float 3.10\n",
    "dependencies: !custom [a]\n",
])
def test_tags_are_refused_before_anything_is_constructed(text):
    with pytest.raises(YamlError, match="anchors, aliases and tags"):
        load(text)


def test_oversize_text_is_refused_before_parsing():
    text = "dependencies:\n" + "  - numpy\n" * 200
    with pytest.raises(YamlError, match="over the 1 KiB limit for YAML files"):
        load(text, limit=1024)
    assert load(text)["dependencies"][-1] == "numpy"


def test_oversize_environment_file_is_a_note(repo):
    write(repo / "environment.yml", "dependencies:\n" + "  - numpy\n" * 120_000)
    env = evidence_of(repo, ProjectKind.CONDA_ENV)
    assert env.packages == () and any("over the 1024 KiB limit" in note for note in env.notes)


def test_nesting_is_bounded():
    assert load("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(YamlError, match="nested too deeply"):
        load("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    with pytest.raises(YamlError, match="nested too deeply"):
        load("[" * 100_000)


def test_scalars_stay_as_written():
    document = load("python: 3.10\nversion: 1.20\nflag: yes\nwhen: 2021-01-01\nempty:\nnull_word: null\n")
    assert document == {"python": "3.10", "version": "1.20", "flag": "yes", "when": "2021-01-01",
                        "empty": None, "null_word": "null"}


def test_plain_safe_loader_is_left_alone():
    load("a: 1\n")
    assert yaml.load("a: 1\n", Loader=yaml.SafeLoader) == {"a": 1}


@pytest.mark.parametrize(("text", "problem"), [
    ("dependencies:\n\t- python=3.7\n", "line 2: tab used for indentation"),
    ("name: a\n---\nname: b\n", "line 2: more than one YAML document"),
    ("dependencies: [numpy, scipy\n", "line 2: expected ',' or ']'"),
])
def test_syntax_errors_name_the_line(text, problem):
    with pytest.raises(YamlError) as caught:
        load(text)
    assert str(caught.value).startswith(problem)


def test_empty_documents_are_none():
    assert load("") is None and load("---\n# nothing\n") is None


def test_mlflow_python_version_is_not_a_float(repo):
    write(repo / "python_env.yaml", "python: 3.10\nbuild_dependencies:\n- pip\ndependencies:\n- tensorflow==2.13.0\n")
    env = evidence_of(repo, ProjectKind.MLFLOW_PYTHON_ENV)
    assert env.python == "3.10" and env.packages == (("tensorflow", "2.13.0", True),)


def test_real_conda_env_export(repo):
    # as `conda env export` writes it: quoted prefix, build strings, a pip section, comments
    write(repo / "environment.yml", """\
name: tf-gpu
channels:
  - conda-forge
  - defaults
dependencies:
  - _libgcc_mutex=0.1=conda_forge
  - cudatoolkit=11.2.2=hbe64b41_10  # GPU
  - python=3.9.13=h2660328_0_cpython
  - numpy=1.23.5=py39h3d75532_0
  - pip:
      - tensorflow==2.10.1
      - "keras==2.10.0"
prefix: '/home/me/miniconda3/envs/tf-gpu'
""")
    env = evidence_of(repo, ProjectKind.CONDA_ENV)
    assert env.python == "3.9.13"
    assert env.packages == (
        ("libgcc-mutex", "0.1", True),
        ("cudatoolkit", "11.2.2", True),
        ("numpy", "1.23.5", True),
        ("tensorflow", "2.10.1", True),
        ("keras", "2.10.0", True),
    )


def test_control_characters_are_a_yaml_error():
    with pytest.raises(YamlError, match="unacceptable character #x0000"):
        load("dependencies:\n  - numpy\x00\n")
