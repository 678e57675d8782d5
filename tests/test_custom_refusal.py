"""Custom classes without their code are named before anything is solved or built.

The refusal must come before the index is asked: every refusing run here is `--offline` with an
empty cache and an index URL on a closed 127.0.0.1 port, so reaching the solver would end with a
different error (and nothing may appear in the cache or the output folder).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from conftest import FIXTURES, SHARED_MODELS

from kresolve.artifact import inspect
from kresolve.customcode import missing_custom_code

CUSTOM = FIXTURES / "keras3-custom-layer" / "model.keras"


def closed_port() -> int:
    with socket.socket() as sock:  # bound then closed: nothing listens there afterwards
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(tmp_path, *args):
    env = dict(os.environ, KRESOLVE_CACHE_DIR=str(tmp_path / "cache"),
               PIP_INDEX_URL=f"http://127.0.0.1:{closed_port()}/simple", PIP_EXTRA_INDEX_URL="")
    return subprocess.run([sys.executable, "-m", "kresolve", *args], check=False, capture_output=True, text=True, env=env)


def test_custom_layer_without_code_is_refused_before_solving(tmp_path):
    out = tmp_path / "out"
    proc = run(tmp_path, "lock", str(CUSTOM), "--offline", "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    line = lines[0]
    assert str(CUSTOM) in line and "ScaleLayer" in line
    # where it was registered, as the file and the sidecar record it
    assert "kresolve_fixtures>ScaleLayer" in line and "module kresolve_fixture_layers" in line
    assert "kresolve_fixture_layers.ScaleLayer" in line
    assert "--custom-objects MODULE --code-path DIR" in line and "--requirement PACKAGE" in line
    assert "nothing was solved or built" in line
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_without_offline_the_refusal_still_comes_before_the_index(tmp_path):
    # The index URL is a closed port: reaching it would be exit 4 (network), not 1.
    proc = run(tmp_path, "lock", str(CUSTOM), "-o", str(tmp_path / "out"))
    assert proc.returncode == 1 and "ScaleLayer" in proc.stderr, proc.stderr
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("given", [("--custom-objects", "kresolve_fixture_layers"),
                                   ("--requirement", "some-layers-package"),
                                   ("--code-path", str(FIXTURES.parent))])
def test_any_code_given_passes_the_check(tmp_path, given):
    proc = run(tmp_path, "lock", str(CUSTOM), "--offline", "-o", str(tmp_path / "out"), *given)
    assert proc.returncode != 0  # offline with an empty cache: it stops at the index instead
    assert "custom class" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_classes_only_the_compile_config_names_need_no_code():
    shared = SHARED_MODELS / "keras3-zip-custom-loss" / "cnn.keras"
    if not shared.exists():
        pytest.skip(f"shared third-party models not found at {SHARED_MODELS}")
    facts = inspect(shared)
    assert [(c.class_name, c.compile_only) for c in facts.custom_objects] == [("stock_return_loss", True)]
    assert missing_custom_code(facts) == ()


def test_shared_model_with_a_custom_layer_is_refused_naming_it(tmp_path):
    shared = SHARED_MODELS / "keras215-zip-custom-tfp" / "custom_model.keras"
    if not shared.exists():
        pytest.skip(f"shared third-party models not found at {SHARED_MODELS}")
    proc = run(tmp_path, "lock", str(shared), "--offline", "-o", str(tmp_path / "out"))
    assert proc.returncode == 1, proc.stderr
    assert "MyLayers>CustomLayer" in proc.stderr
    # The TFP layer may be covered by a companion rule (its package is added to the lock);
    # the loss is needed only by compile=True, which the smoke test does not use.
    assert "nll" not in proc.stderr


def test_the_check_is_a_function_other_rules_can_narrow():
    facts = inspect(CUSTOM)
    assert [c.class_name for c in missing_custom_code(facts)] == ["ScaleLayer"]
    assert missing_custom_code(facts, covered=lambda obj: obj.module == "kresolve_fixture_layers") == ()
    assert missing_custom_code(facts, custom_objects=("kresolve_fixture_layers",)) == ()


@pytest.mark.integration
def test_no_smoke_writes_the_lock_and_warns_that_nothing_is_proven(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "kresolve", "lock", str(CUSTOM), "--no-smoke", "--python", "3.11",
                           "--platform", "linux-64", "-o", str(out)], check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    assert "warning" in text and "ScaleLayer" in text and "nothing proves the model loads" in text
    report = json.loads((out / "kresolve-report.json").read_text())
    assert len(report["warnings"]) == 1 and "ScaleLayer" in report["warnings"][0]
    assert (out / "requirements.txt").is_file()
