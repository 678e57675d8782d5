"""Finding the models inside a directory (fleet scans) and inspecting them all in one run.

Decision on odd files: a file *named* like a model (.keras/.h5/.hdf5/.hdf) is always a
candidate, whatever its bytes, so a scan reports it (refused, with the reason) instead of
silently skipping it; the PyTorch zip named model.hdf5 in the shared models is such a refused
candidate. Zips not named like models are candidates only when they hold config.json +
metadata.json at their root; other zips and non-model files are skipped.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import FIXTURES, SHARED_MODELS

from kresolve.artifact import BadInput, ModelFacts, discover, find_models, inspect_all
from kresolve.artifact import discovery as discover_module

H5 = FIXTURES / "tf215-h5" / "model.h5"
KERAS_ZIP = FIXTURES / "keras3-zip" / "model.keras"
SAVEDMODEL = FIXTURES / "tf215-savedmodel" / "model"


def copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)
    return target


@pytest.fixture
def tree(tmp_path) -> Path:
    """A project tree: real models at several depths, junk, links, skipped directories."""
    root = tmp_path / "zoo"
    copy(H5, root / "a.h5")
    copy(KERAS_ZIP, root / "team" / "nlp" / "classifier.keras")
    copy(SAVEDMODEL, root / "serving" / "export")
    copy(H5, root / "serving" / "export" / "assets" / "inner.h5")  # inside a model: not listed
    # TF Serving layout: one SavedModel per version folder
    copy(SAVEDMODEL, root / "tfserving" / "digits" / "1")
    copy(SAVEDMODEL, root / "tfserving" / "digits" / "2")
    # an unpacked .keras directory
    with zipfile.ZipFile(KERAS_ZIP) as archive:
        archive.extractall(root / "unpacked")
    # a .keras archive renamed to .zip is still found by its listing
    copy(KERAS_ZIP, root / "downloads" / "renamed.zip")
    # the deepest place a model is looked for: 4 directories below the root
    copy(H5, root / "1" / "2" / "3" / "4" / "deep.h5")
    copy(H5, root / "1" / "2" / "3" / "4" / "5" / "too-deep.h5")
    # files posing as models: reported, then refused by inspect
    (root / "broken").mkdir()
    (root / "broken" / "empty.h5").write_bytes(b"")
    (root / "broken" / "lfs.h5").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 123456\n")
    with h5py.File(root / "broken" / "dataset.bin", "w") as handle:  # HDF5, but data
        handle["x"] = np.zeros(3)
    # an incomplete SavedModel (variables/ without saved_model.pb): reported, refused
    copy(SAVEDMODEL / "variables", root / "half" / "variables")
    # junk that is skipped
    (root / "README.md").write_text("# models\n")
    (root / "config.json").write_text("{}")
    with zipfile.ZipFile(root / "data.zip", "w") as archive:
        archive.writestr("train.csv", "a,b\n1,2\n")
    np.savez(root / "arrays.npz", x=np.zeros(2))
    (root / "model.json").write_text('{"class_name": "Sequential", "config": {}}')
    (root / "weights.pt").write_bytes(b"\x80\x02}q\x00.")
    # skipped directories
    copy(H5, root / ".git" / "lfs" / "objects" / "x.h5")
    copy(H5, root / ".cache" / "m.h5")
    copy(H5, root / "node_modules" / "pkg" / "m.h5")
    copy(H5, root / "__pycache__" / "m.h5")
    (root / "env").mkdir()
    (root / "env" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    copy(H5, root / "env" / "lib" / "m.h5")
    (root / "condaenv" / "conda-meta").mkdir(parents=True)
    copy(H5, root / "condaenv" / "share" / "m.h5")
    # symbolic links are never followed: a loop, a link to a model, a link to a model dir
    os.symlink(root, root / "team" / "loop")
    os.symlink(root / "a.h5", root / "link-to-a.h5")
    os.symlink(root / "serving" / "export", root / "link-to-export")
    outside = copy(H5, tmp_path / "outside" / "m.h5")
    os.symlink(outside.parent, root / "outside-link")
    return root


EXPECTED = [
    "1/2/3/4/deep.h5",
    "a.h5",
    "broken/dataset.bin",
    "broken/empty.h5",
    "broken/lfs.h5",
    "downloads/renamed.zip",
    "half",
    "serving/export",
    "team/nlp/classifier.keras",
    "tfserving/digits/1",
    "tfserving/digits/2",
    "unpacked",
]


def test_discover_finds_every_candidate_and_nothing_else(tree):
    found = discover(tree)
    assert [str(p.relative_to(tree)) for p in found] == EXPECTED
    assert all(isinstance(p, Path) and p.is_absolute() for p in found)


def test_find_models_notes_what_was_skipped(tree):
    discovery = find_models(tree)
    assert discovery.complete
    assert discovery.root == str(tree)
    notes = " | ".join(discovery.notes)
    assert "skipped 4 symbolic link(s)" in notes
    assert "virtual environment(s): condaenv, env" in notes
    assert f"more than 4 levels down (e.g. under {tree / '1' / '2' / '3' / '4' / '5'})" in notes


def test_inspect_all_reports_good_and_bad(tree):
    results = inspect_all(tree)
    assert [str(p.relative_to(tree)) for p, _ in results] == EXPECTED
    outcome = {str(p.relative_to(tree)): r for p, r in results}
    good = {name for name, r in outcome.items() if isinstance(r, ModelFacts)}
    assert good == {"1/2/3/4/deep.h5", "a.h5", "downloads/renamed.zip", "serving/export",
                    "team/nlp/classifier.keras", "tfserving/digits/1", "tfserving/digits/2",
                    "unpacked"}
    assert outcome["a.h5"].keras_version == "2.15.0"
    assert outcome["serving/export"].format == "savedmodel"
    bad = {name: str(r) for name, r in outcome.items() if isinstance(r, BadInput)}
    assert "empty file" in bad["broken/empty.h5"]
    assert "text file" in bad["broken/lfs.h5"]
    assert "not a Keras model" in bad["broken/dataset.bin"]
    assert "incomplete SavedModel" in bad["half"]
    assert all(message.startswith(str(tree)) and "\n" not in message for message in bad.values())


def test_discover_on_a_model_returns_it(tree):
    assert discover(tree / "a.h5") == (tree / "a.h5",)
    assert discover(tree / "serving" / "export") == (tree / "serving" / "export",)
    assert discover(tree / "unpacked") == (tree / "unpacked",)
    # a file is returned as given: inspect decides what it is
    assert discover(tree / "README.md") == (tree / "README.md",)
    (result,) = inspect_all(tree / "README.md")
    assert isinstance(result[1], BadInput) and "text file" in str(result[1])


def test_directory_without_models_is_bad_input(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("nothing here")
    with pytest.raises(BadInput, match=r"docs: no Keras/TensorFlow models found"):
        discover(tmp_path / "docs")
    with pytest.raises(BadInput, match="no Keras/TensorFlow models found"):
        inspect_all(tmp_path / "docs")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="empty: no Keras"):
        discover(tmp_path / "empty")
    with pytest.raises(BadInput, match="no such file or directory"):
        discover(tmp_path / "missing")


def test_only_links_is_no_models(tmp_path):
    copy(H5, tmp_path / "real" / "m.h5")
    (tmp_path / "links").mkdir()
    os.symlink(tmp_path / "real" / "m.h5", tmp_path / "links" / "m.h5")
    os.symlink(tmp_path / "links", tmp_path / "links" / "self")
    with pytest.raises(BadInput, match=r"skipped 2 symbolic link"):
        discover(tmp_path / "links")
    # the root itself may be a link: the user named it
    os.symlink(tmp_path / "real", tmp_path / "root-link")
    assert discover(tmp_path / "root-link") == (tmp_path / "root-link" / "m.h5",)


def test_model_limit_cuts_the_scan_with_a_note(tmp_path, monkeypatch):
    for index in range(5):
        copy(H5, tmp_path / f"m{index}.h5")
    monkeypatch.setattr(discover_module, "MAX_MODELS", 3)
    discovery = find_models(tmp_path)
    assert [p.name for p in discovery.models] == ["m0.h5", "m1.h5", "m2.h5"]
    assert not discovery.complete
    assert any("stopped at 3 models" in note for note in discovery.notes)


def test_entry_limit_cuts_the_scan(tmp_path, monkeypatch):
    copy(H5, tmp_path / "a.h5")
    for index in range(20):
        (tmp_path / f"junk{index:02}.txt").write_text("x")
    monkeypatch.setattr(discover_module, "MAX_ENTRIES", 10)
    discovery = find_models(tmp_path)
    assert discovery.models == (tmp_path / "a.h5",)
    assert not discovery.complete and "directory entries" in discovery.notes[0]


def test_discovery_never_asks_the_h5_worker(tree, monkeypatch):
    import kresolve.artifact.h5worker as worker

    def refuse(*args, **kwargs):
        raise AssertionError("discovery must not open HDF5 files")

    monkeypatch.setattr(worker, "h5_metadata", refuse)
    assert len(discover(tree)) == len(EXPECTED)


def test_project_files_are_read_once_for_many_models(tmp_path, monkeypatch):
    from kresolve.project import requirements as projectfiles

    (tmp_path / "requirements.txt").write_text("tensorflow==2.15.1\n")
    for index in range(3):
        copy(H5, tmp_path / f"m{index}.h5")
    calls = []
    original = projectfiles.parse_requirements
    monkeypatch.setattr(projectfiles, "parse_requirements",
                        lambda *a, **k: calls.append(a[0]) or original(*a, **k))
    results = inspect_all(tmp_path)
    assert len(results) == 3 and len(calls) == 1
    assert all(r.project[0].package("tensorflow") == ("tensorflow", "2.15.1", True) for _, r in results)


# --- the shared third-party models ----------------------------------------------------------

needs_shared = pytest.mark.skipif(not SHARED_MODELS.is_dir(), reason="shared models not present")


@needs_shared
def test_shared_models_directory():
    """34 folders, 34 candidates: 19 HDF5 files, 8 .keras zips, 1 unpacked .keras directory, 5
    SavedModel directories and the PyTorch zip named model.hdf5 (a refused candidate). Neither
    model.json architecture files nor the HDF5 weights inside the unpacked .keras directory nor
    SavedModel variables/ are listed on their own."""
    found = discover(SHARED_MODELS)
    relative = [str(p.relative_to(SHARED_MODELS)) for p in found]
    folders = sorted(p.name for p in SHARED_MODELS.iterdir() if p.is_dir())
    assert len(found) == len(folders) == 34
    assert sorted({r.split("/")[0] for r in relative}) == folders  # one model per folder
    assert "keras215-unpacked-keras-dir/_model_prob_mnist" in relative
    assert "tf114-estimator-savedmodel-sharded" in relative
    assert "odd-savedmodel-pb-no-variables" in relative
    assert not any(r.endswith((".json", "/variables")) or "/variables/" in r for r in relative)

    results = inspect_all(SHARED_MODELS)
    refused = {str(p.relative_to(SHARED_MODELS)): str(r) for p, r in results if isinstance(r, BadInput)}
    assert list(refused) == ["odd-torch-zip-named-hdf5/model.hdf5"]
    assert "PyTorch" in refused["odd-torch-zip-named-hdf5/model.hdf5"]
    assert sum(isinstance(r, ModelFacts) for _, r in results) == 33
