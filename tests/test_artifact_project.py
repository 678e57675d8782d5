"""Project evidence: the requirements / conda / pyproject / Pipfile / setup.cfg / conda-meta /
lock files found near a model, parsed without executing anything.

The shared third-party models came without their projects, so realistic project files are
written here around copies of real model files (tests/fixtures/models).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES

from kresolve.artifact import ProjectEvidence, inspect
from kresolve.project import ProjectKind, project_evidence, search_dirs
from kresolve.project.environment_yml import conda_version
from kresolve.project.pyproject import poetry_constraint

H5_MODEL = FIXTURES / "tf215-h5" / "model.h5"
SAVEDMODEL = FIXTURES / "tf215-savedmodel" / "model"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def repo(tmp_path) -> Path:
    """A project root (with .git) holding models/model.h5, a copy of a real tf 2.15 model."""
    root = tmp_path / "proj"
    (root / ".git").mkdir(parents=True)
    (root / "models").mkdir()
    shutil.copyfile(H5_MODEL, root / "models" / "model.h5")
    return root


def only(evidence: tuple[ProjectEvidence, ...], kind: str) -> ProjectEvidence:
    matches = [e for e in evidence if e.kind == kind]
    assert len(matches) == 1, evidence
    return matches[0]


def noted(evidence: ProjectEvidence, *parts: str) -> bool:
    return any(all(part in note for part in parts) for note in evidence.notes)


# --- requirements.txt -----------------------------------------------------------------------

REQUIREMENTS = """\
# training env, frozen 2020-03
-r requirements-base.txt
--extra-index-url https://user:s3cret@pypi.example.com/simple
tensorflow-gpu==1.15.2      # the GPU build
Keras==2.3.1
h5py>=2.10,<3 ; python_version < "3.8"
numpy~=1.18.0
tensorflow_hub
protobuf==3.20.3 \\
    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000
-e git+https://github.com/someone/layers.git@v1#egg=my_layers
https://files.example.com/tensorflow_addons-0.9.1-cp37-cp37m-manylinux2010_x86_64.whl
not a requirement at all !!
"""


def test_requirements_pins_include_markers_hashes(repo):
    write(repo / "requirements.txt", REQUIREMENTS)
    write(repo / "requirements-base.txt", "scipy==1.4.1\nPillow>=7\n")
    evidence = project_evidence(repo / "models" / "model.h5")
    assert [e.kind for e in evidence] == [ProjectKind.REQUIREMENTS]  # base is included, not repeated
    req = evidence[0]
    assert req.path == str(repo / "requirements.txt")
    assert req.python is None
    assert req.packages == (
        ("scipy", "1.4.1", True),
        ("pillow", ">=7", False),
        ("tensorflow-gpu", "1.15.2", True),
        ("keras", "2.3.1", True),
        ("h5py", ">=2.10,<3", False),
        ("numpy", "~=1.18.0", False),
        ("tensorflow-hub", "", False),
        ("protobuf", "3.20.3", True),
        ("my-layers", "", False),
        ("tensorflow-addons", "0.9.1", True),
    )
    assert noted(req, "tensorflow-gpu==1.15.2", "GPU")
    assert noted(req, "h5py only when", "python_version")
    assert noted(req, "hash-pinned")
    assert noted(req, "editable install")
    assert noted(req, "cannot parse requirement", "not a requirement at all")
    # index URLs are reported without their credentials
    assert noted(req, "--extra-index-url", "pypi.example.com")
    assert not any("s3cret" in note for note in req.notes)


def test_requirements_other_files_in_the_same_directory(repo):
    write(repo / "requirements.txt", "tensorflow==2.4.1\n")
    write(repo / "requirements-gpu.txt", "-r requirements.txt\ntensorflow-gpu==2.4.1\n")
    write(repo / "requirements_dev.txt", "pytest\n")
    evidence = project_evidence(repo / "models" / "model.h5")
    assert [Path(e.path).name for e in evidence] == [
        "requirements.txt", "requirements-gpu.txt", "requirements_dev.txt"]
    assert evidence[1].packages == (("tensorflow", "2.4.1", True), ("tensorflow-gpu", "2.4.1", True))


def test_requirements_utf16_from_powershell_pip_freeze(repo):
    write(repo / "requirements.txt", "tensorflow==2.10.0\r\nkeras==2.10.0\r\n".encode("utf-16"))
    req = project_evidence(repo / "models" / "model.h5")[0]
    assert req.packages == (("tensorflow", "2.10.0", True), ("keras", "2.10.0", True))


def test_requirements_includes_are_bounded(repo, tmp_path):
    write(tmp_path / "outside.txt", "evil==1.0\n")
    write(repo / "requirements.txt",
          "-r ../outside.txt\n-r requirements.txt\n-r missing.txt\n"
          "-r https://example.com/req.txt\n-c constraints.txt\nkeras==2.2.4\n")
    write(repo / "constraints.txt", "numpy==1.16.4\n")
    req = only(project_evidence(repo / "models" / "model.h5"), ProjectKind.REQUIREMENTS)
    assert req.packages == (("numpy", "1.16.4", True), ("keras", "2.2.4", True))
    assert noted(req, "outside the project")
    assert noted(req, "cycle")
    assert noted(req, "missing.txt", "no such file")
    assert noted(req, "remote; not fetched")
    assert noted(req, "constraints from constraints.txt")


def test_symlinked_project_file_leading_out_is_not_followed(repo, tmp_path):
    write(tmp_path / "elsewhere" / "requirements.txt", "tensorflow==2.0.0\n")
    os.symlink(tmp_path / "elsewhere" / "requirements.txt", repo / "requirements.txt")
    req = only(project_evidence(repo / "models" / "model.h5"), ProjectKind.REQUIREMENTS)
    assert req.packages == ()
    assert noted(req, "symbolic link leading out of the project")


def test_symlink_inside_the_project_is_read(repo):
    write(repo / "deps" / "requirements.txt", "tensorflow==2.0.0\n")
    os.symlink(repo / "deps" / "requirements.txt", repo / "requirements.txt")
    req = only(project_evidence(repo / "models" / "model.h5"), ProjectKind.REQUIREMENTS)
    assert req.packages == (("tensorflow", "2.0.0", True),)


# --- conda environment files ----------------------------------------------------------------

ENVIRONMENT_YML = """\
name: carnd-term1   # udacity style
channels:
  - conda-forge
  - defaults
dependencies:
  - python=3.7
  - tensorflow-gpu=1.15
  - keras==2.3.1
  - conda-forge::h5py=2.10.0=nompi_py37h513d04c_102
  - numpy>=1.16,<1.19
  - "cudatoolkit 10.0.130 0"
  - pytorch
  - pip
  - pip:
    - tensorflow-addons==0.8.3
    - -r requirements-pip.txt
    - --extra-index-url https://download.pytorch.org/whl/cu100
prefix: /home/someone/anaconda3/envs/carnd-term1
"""


def test_environment_yml_with_pip_section(repo):
    write(repo / "environment.yml", ENVIRONMENT_YML)
    write(repo / "requirements-pip.txt", "imageio==2.6.1\n")
    # requirements-pip.txt is also a requirements*.txt file: it is evidence of its own
    env = only(project_evidence(repo / "models" / "model.h5"), ProjectKind.CONDA_ENV)
    assert env.python == "3.7"
    assert env.packages == (
        ("tensorflow-gpu", "==1.15.*", False),
        ("keras", "2.3.1", True),
        ("h5py", "2.10.0", True),
        ("numpy", ">=1.16,<1.19", False),
        ("cudatoolkit", "10.0.130", True),
        ("torch", "", False),
        ("pip", "", False),
        ("tensorflow-addons", "0.8.3", True),
        ("imageio", "2.6.1", True),
    )
    assert noted(env, "tensorflow-gpu==1.15.*", "GPU")
    assert noted(env, "download.pytorch.org")


def test_conda_env_export_layout_and_yaml_extension(repo):
    # `conda env export` writes the list at its key's indentation and pins builds
    write(repo / "environment.yaml", """\
name: tf
channels:
- defaults
dependencies:
- _tflow_select=2.1.0=gpu
- python=3.6.10=h0371630_0
- tensorflow-base=1.14.0=gpu_py36h8d69cac_0
- tensorflow=1.14.0=gpu_py36h3fb9ad6_0
- pip:
  - keras==2.2.4
""")
    env = only(project_evidence(repo / "models" / "model.h5"), ProjectKind.CONDA_ENV)
    assert env.python == "3.6.10"
    assert noted(env, "_tflow_select build 'gpu'", "GPU")
    assert env.packages == (
        ("tflow-select", "2.1.0", True),
        ("tensorflow-base", "1.14.0", True),
        ("tensorflow", "1.14.0", True),
        ("keras", "2.2.4", True),
    )


@pytest.mark.parametrize(("spec", "expected"), [
    ("=1.15", ("==1.15.*", False)),
    ("=1.15.0", ("1.15.0", True)),
    ("=1.15.0=h0d30ee6_0", ("1.15.0", True)),
    ("==2.3.1", ("2.3.1", True)),
    (">=1.16,<1.19", (">=1.16,<1.19", False)),
    ("1.15.*", ("==1.15.*", False)),
    ("1.15*", ("==1.15.*", False)),
    ("", ("", False)),
    ("1.15|1.16", None),
])
def test_conda_version_specs(spec, expected):
    assert conda_version(spec) == expected


# --- pyproject.toml -------------------------------------------------------------------------

def test_pyproject_pep621(repo):
    write(repo / "pyproject.toml", """\
[project]
name = "digits"
version = "0.1"
requires-python = ">=3.9,<3.12"
dependencies = [
    "tensorflow[and-cuda]>=2.14,<2.16",
    "keras~=2.15.0",
    "numpy<2",
]

[project.optional-dependencies]
mac = ["tensorflow-macos==2.15.0", "numpy<1.27"]
dev = ["pytest>=7"]

[dependency-groups]
lint = ["ruff"]
""")
    pyproject = only(project_evidence(repo / "models" / "model.h5"), ProjectKind.PYPROJECT)
    assert pyproject.python == ">=3.9,<3.12"
    assert pyproject.packages == (
        ("tensorflow", ">=2.14,<2.16", False),
        ("keras", "~=2.15.0", False),
        ("numpy", "<2", False),
        ("tensorflow-macos", "2.15.0", True),  # optional groups only add names main lacks
        ("pytest", ">=7", False),
        ("ruff", "", False),
    )
    assert noted(pyproject, "tensorflow[and-cuda]")
    assert noted(pyproject, "tensorflow-macos comes from [project.optional-dependencies].mac")


def test_pyproject_poetry(repo):
    write(repo / "pyproject.toml", """\
[tool.poetry]
name = "chatbot"
version = "0.1.0"

[tool.poetry.dependencies]
python = "^3.8"
tensorflow = "^2.8.0"
keras = "~2.8"
numpy = {version = "1.22.3", optional = true}
h5py = "*"
nltk = {git = "https://github.com/nltk/nltk.git"}
protobuf = [
    {version = "<3.20", python = "<3.10"},
    {version = "^3.20", python = ">=3.10"},
]

[tool.poetry.group.dev.dependencies]
tensorflow = "2.9.0"
black = "^22.3"
""")
    pyproject = only(project_evidence(repo / "models" / "model.h5"), ProjectKind.PYPROJECT)
    assert pyproject.python == ">=3.8,<4.0"
    assert pyproject.packages == (
        ("tensorflow", ">=2.8.0,<3.0.0", False),
        ("keras", ">=2.8,<2.9", False),
        ("numpy", "1.22.3", True),
        ("h5py", "", False),
        ("nltk", "", False),
        ("protobuf", "<3.20", False),
        ("protobuf", ">=3.20,<4.0", False),
        ("black", ">=22.3,<23.0", False),  # the dev group's tensorflow does not override main
    )
    assert noted(pyproject, "nltk comes from a git/path/url source")
    assert noted(pyproject, "protobuf has several constraints")


@pytest.mark.parametrize(("text", "expected"), [
    ("^1.2.3", (">=1.2.3,<2.0.0", False)),
    ("^0.2.3", (">=0.2.3,<0.3.0", False)),
    ("^0.0.3", (">=0.0.3,<0.0.4", False)),
    ("^0", (">=0,<1", False)),
    ("~1.2.3", (">=1.2.3,<1.3.0", False)),
    ("~1", (">=1,<2", False)),
    ("1.2.*", ("==1.2.*", False)),
    ("2.4.1", ("2.4.1", True)),
    (">=1.2 <2.0", (">=1.2,<2.0", False)),
    ("~=2.4", ("~=2.4", False)),
    ("1.2 || 1.3", None),
])
def test_poetry_constraints(text, expected):
    assert poetry_constraint(text) == expected


def test_pyproject_dynamic_dependencies_note(repo):
    write(repo / "pyproject.toml", '[project]\nname = "x"\ndynamic = ["dependencies", "version"]\n')
    pyproject = only(project_evidence(repo / "models" / "model.h5"), ProjectKind.PYPROJECT)
    assert pyproject.packages == ()
    assert noted(pyproject, "dynamic")


# --- Pipfile, Pipfile.lock, poetry.lock, uv.lock, setup.cfg -----------------------------------

def test_pipfile_and_lock(repo):
    write(repo / "Pipfile", """\
[[source]]
url = "https://pypi.org/simple"
verify_ssl = true
name = "pypi"

[packages]
tensorflow = "==2.3.1"
keras = "*"
numpy = {version = ">=1.16,<1.19", markers = "python_version < '3.9'"}

[dev-packages]
pytest = "*"

[requires]
python_version = "3.7"
""")
    write(repo / "Pipfile.lock", json.dumps({
        "_meta": {"requires": {"python_version": "3.7"}, "pipfile-spec": 6},
        "default": {
            "tensorflow": {"hashes": ["sha256:00"], "index": "pypi", "version": "==2.3.1"},
            "numpy": {"version": "==1.18.5", "markers": "python_version < '3.9'"},
            "h5py": {"version": "==2.10.0"},
        },
        "develop": {"pytest": {"version": "==6.1.1"}, "numpy": {"version": "==1.19.0"}},
    }))
    evidence = project_evidence(repo / "models" / "model.h5")
    assert [e.kind for e in evidence] == [ProjectKind.PIPFILE_LOCK, ProjectKind.PIPFILE]
    lock, pipfile = evidence
    assert lock.python == "3.7"
    assert lock.packages == (("tensorflow", "2.3.1", True), ("numpy", "1.18.5", True),
                             ("h5py", "2.10.0", True), ("pytest", "6.1.1", True))
    assert pipfile.python == "3.7"
    assert pipfile.packages == (("tensorflow", "2.3.1", True), ("keras", "", False),
                                ("numpy", ">=1.16,<1.19", False), ("pytest", "", False))
    assert noted(pipfile, "numpy only when")


def test_poetry_and_uv_locks(repo):
    write(repo / "poetry.lock", """\
[[package]]
name = "tensorflow"
version = "2.8.0"
description = "TensorFlow is an open source machine learning framework for everyone."
optional = false
python-versions = "*"

[[package]]
name = "Keras"
version = "2.8.0"
optional = false
python-versions = "*"

[metadata]
lock-version = "1.1"
python-versions = "^3.8"
content-hash = "abc"
""")
    write(repo / "sub" / "uv.lock", """\
version = 1
requires-python = ">=3.10"

[[package]]
name = "proj"
version = "0.1.0"
source = { editable = "." }

[[package]]
name = "tf-keras"
version = "2.16.0"
source = { registry = "https://pypi.org/simple" }
""")
    evidence = project_evidence(repo / "models" / "model.h5")
    poetry = only(evidence, ProjectKind.POETRY_LOCK)
    assert poetry.python == ">=3.8,<4.0"
    assert poetry.packages == (("tensorflow", "2.8.0", True), ("keras", "2.8.0", True))
    assert not [e for e in evidence if e.kind == ProjectKind.UV_LOCK]  # not on the way up
    uv = only(project_evidence(repo / "sub" / "model.h5"), ProjectKind.UV_LOCK)
    assert uv.python == ">=3.10"
    assert uv.packages == (("tf-keras", "2.16.0", True),)


def test_setup_cfg(repo):
    write(repo / "setup.cfg", """\
[metadata]
name = mymodel

[options]
python_requires = >=3.6
install_requires =
    tensorflow>=1.14,<2.0  # TF1 only
    keras==2.2.4
    # commented out: opencv-python
    h5py<3.0.0; python_version<"3.9"

[options.extras_require]
gpu = tensorflow-gpu>=1.14,<2.0
""")
    write(repo / "setup.py", "raise SystemExit('setup.py must never be executed')\n")
    cfg = only(project_evidence(repo / "models" / "model.h5"), ProjectKind.SETUP_CFG)
    assert cfg.python == ">=3.6"
    assert cfg.packages == (("tensorflow", ">=1.14,<2.0", False), ("keras", "2.2.4", True),
                            ("h5py", "<3.0.0", False), ("tensorflow-gpu", ">=1.14,<2.0", False))
    assert noted(cfg, "tensorflow-gpu comes from extras_require.gpu")


def test_python_version_files(repo):
    write(repo / ".python-version", "3.7.12\n")
    write(repo / "models" / "runtime.txt", "python-3.6.9\n")
    evidence = project_evidence(repo / "models" / "model.h5")
    assert only(evidence, ProjectKind.RUNTIME_TXT).python == "3.6.9"
    assert only(evidence, ProjectKind.PYTHON_VERSION).python == "3.7.12"
    write(repo / ".python-version", "my-pyenv-virtualenv\n")
    pv = only(project_evidence(repo / "models" / "model.h5"), ProjectKind.PYTHON_VERSION)
    assert pv.python is None and noted(pv, "not a Python version")


def test_mlflow_model_directory(repo):
    # MLflow logs a Keras model as model/data/model.keras with its env files in model/
    write(repo / "mlruns" / "model" / "python_env.yaml",
          "python: 3.10.12\nbuild_dependencies:\n  - pip==23.1\ndependencies:\n  - -r requirements.txt\n")
    write(repo / "mlruns" / "model" / "requirements.txt", "mlflow==2.5.0\ntensorflow==2.13.0\n")
    write(repo / "mlruns" / "model" / "conda.yaml",
          "channels:\n- conda-forge\ndependencies:\n- python=3.10.12\n- pip<=23.1\n"
          "- pip:\n  - mlflow==2.5.0\n  - tensorflow==2.13.0\nname: mlflow-env\n")
    model = write(repo / "mlruns" / "model" / "data" / "model.keras", b"PK\x05\x06" + bytes(18))
    evidence = project_evidence(model)
    assert [e.kind for e in evidence] == [ProjectKind.CONDA_ENV, ProjectKind.REQUIREMENTS, ProjectKind.MLFLOW_PYTHON_ENV]
    assert all(e.python in ("3.10.12", None) for e in evidence)
    assert only(evidence, ProjectKind.MLFLOW_PYTHON_ENV).packages == (
        ("mlflow", "2.5.0", True), ("tensorflow", "2.13.0", True))
    assert only(evidence, ProjectKind.CONDA_ENV).packages[0] == ("pip", "<=23.1", False)


# --- conda-meta -----------------------------------------------------------------------------

def make_conda_env(prefix: Path) -> None:
    meta = prefix / "conda-meta"
    records = ["python-3.7.12-hb7a2778_100_cpython", "tensorflow-gpu-1.15.0-h0d30ee6_0",
               "tensorflow-base-1.15.0-gpu_py37h9dcbed7_0", "keras-2.3.1-0",
               "h5py-2.10.0-py37hd6299e0_1", "cudatoolkit-10.0.130-0", "_libgcc_mutex-0.1-main"]
    for record in records:
        name, version, build = record.rsplit("-", 2)
        write(meta / f"{record}.json", json.dumps({"name": name, "version": version, "build": build,
                                                   "files": ["x"] * 10}))
    write(meta / "history", "==> 2020-01-01 <==\n")
    write(meta / "broken.json", "{")
    site = prefix / "lib" / "python3.7" / "site-packages"
    (site / "tensorflow_addons-0.8.3.dist-info").mkdir(parents=True)
    (site / "keras-2.3.1.dist-info").mkdir()
    (site / "numpy-1.18.5.dist-info").mkdir()


def test_conda_meta_is_the_strongest_evidence(repo):
    make_conda_env(repo / "env")
    write(repo / "requirements.txt", "tensorflow-gpu==1.15.0\n")
    write(repo / "environment.yml", "dependencies:\n  - python=3.7\n")
    write(repo / "pyproject.toml", '[project]\nname = "x"\ndependencies = ["keras"]\n')
    write(repo / "models" / "Pipfile.lock", json.dumps({"default": {"keras": {"version": "==2.3.1"}}}))
    evidence = project_evidence(repo / "models" / "model.h5")
    assert [e.kind for e in evidence] == [ProjectKind.CONDA_META, ProjectKind.PIPFILE_LOCK, ProjectKind.CONDA_ENV,
                                          ProjectKind.REQUIREMENTS, ProjectKind.PYPROJECT]
    meta = evidence[0]
    assert meta.path == str(repo / "env" / "conda-meta")
    assert meta.python == "3.7.12"
    assert meta.packages == (
        ("libgcc-mutex", "0.1", True),  # conda's "_libgcc_mutex"
        ("cudatoolkit", "10.0.130", True),
        ("h5py", "2.10.0", True),
        ("keras", "2.3.1", True),
        ("tensorflow-base", "1.15.0", True),
        ("tensorflow-gpu", "1.15.0", True),
        ("numpy", "1.18.5", True),  # pip-installed: from site-packages
        ("tensorflow-addons", "0.8.3", True),
    )
    assert noted(meta, "tensorflow-gpu==1.15.0", "GPU")
    assert noted(meta, "tensorflow-base build 'gpu_py37h9dcbed7_0'")
    assert noted(meta, "pip-installed", "numpy", "tensorflow-addons")
    assert noted(meta, "1 record name(s)")


# --- the search -----------------------------------------------------------------------------

def test_search_goes_up_three_levels_at_most(tmp_path):
    deep = tmp_path / "a" / "b" / "c" / "d" / "e"
    write(tmp_path / "a" / "requirements.txt", "tensorflow==1.0.0\n")  # 4 levels above e/
    write(tmp_path / "a" / "b" / "environment.yml", "dependencies:\n  - python=3.6\n")  # 3 above
    model = deep / "model.h5"
    assert search_dirs(model) == [deep, deep.parent, deep.parent.parent, deep.parent.parent.parent]
    evidence = project_evidence(model)
    assert [e.kind for e in evidence] == [ProjectKind.CONDA_ENV]


def test_search_stops_at_the_git_root(tmp_path):
    write(tmp_path / "requirements.txt", "tensorflow==1.0.0\n")  # above the repository
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    model = root / "model.h5"
    assert search_dirs(model) == [root]
    assert project_evidence(model) == ()
    # a .git file (worktree / submodule) marks a root too
    shutil.rmtree(root / ".git")
    write(root / ".git", "gitdir: ../elsewhere\n")
    assert search_dirs(model) == [root]


def test_nearest_file_of_each_kind_wins(repo):
    write(repo / "requirements.txt", "tensorflow==2.1.0\n")
    write(repo / "pyproject.toml", '[project]\nname = "x"\ndependencies = ["tensorflow<2.5"]\n')
    write(repo / "models" / "requirements.txt", "tensorflow==2.4.1\n")
    evidence = project_evidence(repo / "models" / "model.h5")
    assert [(e.kind, e.path) for e in evidence] == [
        (ProjectKind.REQUIREMENTS, str(repo / "models" / "requirements.txt")),
        (ProjectKind.PYPROJECT, str(repo / "pyproject.toml")),
    ]


def test_savedmodel_directory_is_searched_itself_first(tmp_path):
    project = tmp_path / "serving"
    model = project / "export"
    shutil.copytree(SAVEDMODEL, model)
    write(model / "requirements.txt", "tensorflow==2.15.1\n")
    write(project / "requirements.txt", "tensorflow==2.0.0\n")
    facts = inspect(model)
    assert [e.path for e in facts.project] == [str(model / "requirements.txt")]


# --- malformed files are notes, never errors ------------------------------------------------

@pytest.mark.parametrize(("name", "content", "note"), [
    ("environment.yml", "dependencies:\n\t- python=3.7\n", "tab used for indentation"),
    ("environment.yml", "base: &b\n  - python=3.7\ndependencies: *b\n", "anchors, aliases and tags"),
    ("environment.yml", "- just\n- a list\n", "not a YAML mapping"),
    ("environment.yml", "name: x\ndependencies: python\n", "'dependencies' is not a list"),
    ("pyproject.toml", "[project\nname = 'x'\n", "not valid TOML"),
    ("Pipfile", "[packages]\ntensorflow = \n", "not valid TOML"),
    ("Pipfile.lock", '{"default": {', "not valid JSON"),
    ("setup.cfg", "install_requires = keras\n", "not parsed"),
    ("requirements.txt", b"\xff\xfe\x00\xd8", "not valid UTF-16"),
    ("requirements.txt", b"\x00\x01\xfd binary", "not UTF-8"),
    ("requirements.txt", b"tensorflow==2.4.1\n\xff\xfe garbage\n", None),
    ("poetry.lock", "[[package]]\nname = 'x'\nversion = \n", "not valid TOML"),
    (".python-version", "", "empty"),
])
def test_malformed_files_give_notes(repo, name, content, note):
    write(repo / name, content)
    evidence = project_evidence(repo / "models" / "model.h5")
    assert len(evidence) == 1
    if note is None:  # invalid UTF-8 in a non-BOM file
        assert evidence[0].packages == () and noted(evidence[0], "not UTF-8")
    else:
        assert noted(evidence[0], note), evidence[0].notes


def test_oversized_file_is_refused_with_a_note(repo):
    write(repo / "requirements.txt", "numpy\n" * 200_000)
    req = project_evidence(repo / "models" / "model.h5")[0]
    assert req.packages == () and noted(req, "over the 1024 KiB limit")


def test_directory_named_like_a_project_file(repo):
    (repo / "requirements.txt").mkdir()
    (repo / "pyproject.toml").mkdir()
    evidence = project_evidence(repo / "models" / "model.h5")
    assert all(noted(e, "not a regular file") for e in evidence) and len(evidence) == 2


# --- attached by inspect --------------------------------------------------------------------

def test_inspect_attaches_project_evidence(repo):
    write(repo / "requirements.txt", "tensorflow-cpu==2.15.1\nkeras==2.15.0\n")
    facts = inspect(repo / "models" / "model.h5")
    assert facts.keras_version == "2.15.0"
    (req,) = facts.project
    assert req.package("tensorflow-cpu") == ("tensorflow-cpu", "2.15.1", True)
    assert noted(req, "CPU-only")
    assert inspect(repo / "models" / "model.h5", project=False).project == ()


def test_inspect_json_report_carries_project_evidence(repo):
    from kresolve.report import facts_json

    write(repo / "requirements.txt", "keras==2.15.0\n")
    data = facts_json(inspect(repo / "models" / "model.h5"))
    assert json.loads(json.dumps(data))["project"][0]["packages"] == [["keras", "2.15.0", True]]


def test_a_parser_fault_is_a_note_not_an_error(repo, monkeypatch):
    from kresolve.project import search as project

    write(repo / "pyproject.toml", '[project]\nname = "x"\n')

    def broken(path, top):
        raise KeyError("boom")

    monkeypatch.setitem(project._PARSERS, ProjectKind.PYPROJECT, broken)
    facts = inspect(repo / "models" / "model.h5")
    (pyproject,) = facts.project
    assert pyproject.packages == () and noted(pyproject, "not read (KeyError")


# --- no input makes a parser raise ------------------------------------------------------------

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_NAMES = ["requirements.txt", "environment.yml", "pyproject.toml", "Pipfile", "Pipfile.lock",
          "setup.cfg", "poetry.lock", "python_env.yaml", ".python-version"]
_ALPHABET = st.sampled_from(list("abtf=<>~^*.,:;-_[]{}()'\"#|\\@/ \t\n0123456789") +
                            ["tensorflow", "- ", "  ", "pip:", "-r ", "[project]", "dependencies",
                             "python", "==", "\n  - ", "version", "&a", "*a", "|", "\r\n"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(_NAMES), parts=st.lists(_ALPHABET, max_size=60))
def test_parsers_never_raise(tmp_path, name, parts):
    root = tmp_path / "fuzz"
    shutil.rmtree(root, ignore_errors=True)
    (root / ".git").mkdir(parents=True)
    write(root / name, "".join(parts))
    evidence = project_evidence(root / "model.h5")
    assert len(evidence) == 1
    assert not any("not read (" in note for note in evidence[0].notes), evidence[0].notes
