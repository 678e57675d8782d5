"""The smoke test's proof (issue 7): probes from the model's real inputs, route fallback inside one
smoke run, weights + JSON pairs, the misplaced-variables repair, per-dtype tolerances, isolation.

Unit tests need no TensorFlow. The e2e tests lock real fixtures against the real index and load
them in TF 2.15.1 / 2.21.0 environments (the same pins as tests/test_e2e_smoke.py: the env cache
is shared).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import FIXTURES

from kresolve import api
from kresolve.rules.db import load_rules
from kresolve.rules.plan import plans_for
from kresolve.smoke import loader
from kresolve.smoke.loader import InputSpec, merge_specs, plan_probe, rescaling_range, specs_from_keras_config
from kresolve.smoke.run import (
    REPAIRED_NOTE,
    Attempt,
    _isolation,
    attempts_for,
    compare,
    compare_outputs,
    misplaced_variables,
    no_network_prefix,
    pins_in_lock,
    repaired_copy,
    tolerance,
)

MISPLACED = FIXTURES / "tf215-misplaced-variables-savedmodel" / "model"

# ----------------------------------------------------------------------------- probe rules


def test_embedding_input_gets_indices_below_the_smallest_input_dim():
    plan = plan_probe(InputSpec("tokens", (None, 6), "int32", embedding_dim=50))
    assert plan.rule == "embedding-indices<50" and plan.shape == (2, 6) and plan.dtype == "int32"
    # A float-declared input feeding an Embedding still gets integer indices.
    assert plan_probe(InputSpec("t", (None, 6), "float32", embedding_dim=7)).dtype == "int32"


def test_string_inputs_get_vocabulary_words_or_short_words():
    vocab = plan_probe(InputSpec("text", (None, 1), "string", vocabulary=("cat", "dog")))
    assert vocab.rule == "vocabulary-strings" and set(vocab.words) == {"cat", "dog"}
    plain = plan_probe(InputSpec("text", (None,), "string"))
    assert plain.rule == "short-words" and plain.words


def test_integers_floats_and_ranges():
    assert plan_probe(InputSpec("n", (None, 3), "int64")).rule == "small-ints<10"
    assert plan_probe(InputSpec("x", (None, 4), "float32")).rule == "float-normal"
    image = plan_probe(InputSpec("img", (None, None, None, 3), "float32", value_range=rescaling_range(1 / 255, 0.0)))
    assert image.rule == "uniform-0..255" and image.low == 0 and image.high == 255
    assert image.shape[-1] == 3  # declared channels are kept, never guessed
    assert rescaling_range(1 / 127.5, -1.0) == (0.0, 255.0)


def test_unknown_rank_is_guessed_as_rank_2_and_says_so():
    plan = plan_probe(InputSpec("x", None, "float32"))
    assert plan.shape == (2, loader.FREE_DIM) and plan.rule.endswith("+rank-2-guessed")


def _h5_config(path: Path) -> dict:
    from kresolve.artifact.h5worker import h5_metadata

    text = h5_metadata(path)["attrs"]["model_config"]
    return json.loads(text.decode() if isinstance(text, bytes) else text)


def test_specs_come_from_a_real_keras_config():
    specs = specs_from_keras_config(_h5_config(FIXTURES / "tf215-embedding-h5" / "model.h5"))
    assert specs["tokens"].embedding_dim == 50 and specs["tokens"].dtype == "int32" and specs["tokens"].shape == (None, 6)
    arch = json.loads((FIXTURES / "tf215-weights-json" / "model.json").read_text()) if (FIXTURES / "tf215-weights-json").exists() else None
    if arch is not None:
        assert specs_from_keras_config(arch)["x"].shape == (None, 4)
    assert specs_from_keras_config({"class_name": "Sequential", "config": "nonsense"}) == {}


def test_signature_specs_are_completed_from_the_config():
    config = {"image": InputSpec("image", (None, 8, 8, 3), "float32", value_range=(0.0, 255.0))}
    unknown_rank = merge_specs([InputSpec("image", None, "float32")], config)[0]
    assert unknown_rank.shape == (None, 8, 8, 3) and plan_probe(unknown_rank).rule == "uniform-0..255"
    free_dims = merge_specs([InputSpec("image", (None, None, None, 3), "float32")], config)[0]
    assert free_dims.shape == (None, 8, 8, 3)
    # Nothing known about an input: the signature stays as it is.
    assert merge_specs([InputSpec("a", None, "float32"), InputSpec("b", None, "float32")], config)[0].shape is None


def test_probes_are_deterministic_and_in_range():
    np = pytest.importorskip("numpy")
    plan = plan_probe(InputSpec("tokens", (None, 6), "int32", embedding_dim=50))
    a, b = loader.make_probe(np, plan, 0), loader.make_probe(np, plan, 0)
    assert (a == b).all() and a.dtype == np.int32 and a.min() >= 0 and a.max() < 50
    words = loader.make_probe(np, plan_probe(InputSpec("t", (None, 1), "string", vocabulary=("cat", "dog"))), 0)
    assert words.shape == (2, 1) and all(w in ("cat", "dog") for s in words.ravel() for w in s.split())
    pixels = loader.make_probe(np, plan_probe(InputSpec("i", (None, 8, 8, 3), "float32", value_range=(0.0, 255.0))), 0)
    assert pixels.shape == (2, 8, 8, 3) and 0 <= pixels.min() and pixels.max() <= 255 and pixels.max() > 1


def test_loader_module_imports_only_the_standard_library_at_top():
    code = "import sys; sys.path.insert(0, sys.argv[1]); import loader; print(sorted(m for m in ('numpy', 'tensorflow', 'keras') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-I", "-c", code, str(Path(loader.__file__).parent)],
                          capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- comparison


def test_tolerance_depends_on_the_output_dtype():
    assert tolerance("float32") == (1e-5, 1e-5) and tolerance("float64") == (1e-5, 1e-5)
    assert tolerance("float16")[0] > tolerance("float32")[0] and tolerance("bfloat16")[0] >= tolerance("float16")[0]
    assert tolerance("int64") == (0.0, 0.0)
    ref16 = [{"shape": [1, 2], "dtype": "float16", "data": [[1.0, 2.0]]}]
    out = [{"shape": [1, 2], "dtype": "float16", "data": [[1.004, 2.0]]}]
    assert compare(ref16, out)[0]
    ref32 = [dict(ref16[0], dtype="float32")]
    ok, _, words = compare(ref32, out)
    assert not ok and "float32 tolerance" in words


def test_per_output_max_abs_and_rel_diff():
    ref = [{"shape": [2], "dtype": "float32", "data": [2.0, 0.0]}, {"shape": [1], "dtype": "float32", "data": [4.0]}]
    out = [{"shape": [2], "data": [2.5, 0.1]}, {"shape": [1], "data": [4.0]}]
    diffs, mismatch = compare_outputs(ref, out)
    assert mismatch is None and [d.ok for d in diffs] == [False, True]
    assert math.isclose(diffs[0].max_abs_diff, 0.5) and math.isclose(diffs[0].max_rel_diff, 0.25)  # rel skips the 0
    assert diffs[1].max_abs_diff == 0.0
    nan = compare_outputs(ref[:1], [{"shape": [2], "data": [float("nan"), 0.0]}])[0][0]
    assert not nan.ok and nan.max_abs_diff == math.inf


# ----------------------------------------------------------------------------- layout repair


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_misplaced_variables_are_detected_and_repaired_in_a_copy(tmp_path):
    found = misplaced_variables(MISPLACED)
    assert found[0].name == "variables.index" and any(f.name.startswith("variables.data-") for f in found)
    assert misplaced_variables(FIXTURES / "tf215-savedmodel" / "model") == []
    assert misplaced_variables(FIXTURES / "tf215-h5" / "model.h5") == []
    before = _tree_digest(MISPLACED)
    copy = repaired_copy(MISPLACED, found, tmp_path)
    assert (copy / "variables" / "variables.index").is_file() and not (copy / "variables.index").exists()
    assert (copy / "saved_model.pb").read_bytes() == (MISPLACED / "saved_model.pb").read_bytes()
    assert misplaced_variables(copy) == []
    assert _tree_digest(MISPLACED) == before  # the user's files are untouched


# ----------------------------------------------------------------------------- route fallback


def _routes(fixture: str, model: str):
    return [p.route for p in plans_for(api.inspect(FIXTURES / fixture / model), load_rules())]


def test_a_tf215_env_falls_back_from_tf_keras_to_tf_saved_model():
    routes = _routes("tf215-randomflip-savedmodel", "model")
    chosen = Attempt("tf.keras", (), "route-sm-keras2-tf.keras")
    got = attempts_for(chosen, routes, {"tensorflow": "2.15.1", "keras": "2.15.0", "numpy": "1.26.4"})
    assert [a.loader for a in got] == ["tf.keras", "tf.saved_model"]
    assert got[1].route_id == "route-sm-tf2-saved_model"


def test_a_keras3_env_with_tf_keras_offers_every_route_its_pins_serve():
    routes = _routes("tf215-savedmodel", "model")
    pins = {"tensorflow": "2.21.0", "keras": "3.15.1", "tf_keras": "2.21.0"}  # names canonicalized
    chosen = Attempt("tf_keras", (("TF_USE_LEGACY_KERAS", "1"),), "route-sm-keras2-tf_keras")
    got = attempts_for(chosen, routes, pins)
    assert [a.loader for a in got] == ["tf_keras", "tfsmlayer", "tf.saved_model"]
    assert dict(got[1].env) == {}  # each attempt carries its own route's env vars
    # Without tf-keras pinned, its route is not offered as a fallback.
    assert [a.loader for a in attempts_for(Attempt("tfsmlayer", (), "route-sm-tfsmlayer"), routes,
                                           {"tensorflow": "2.21.0", "keras": "3.15.1"})] == ["tfsmlayer", "tf.saved_model"]


def test_pins_are_read_from_a_lock():
    text = "#\n# loader: tf.keras (rule r)\n--only-binary :all:\n\nTensorFlow==2.15.1 \\\n    --hash=sha256:ab\n    # via x\ntf_keras==2.16.0 \\\n"
    assert pins_in_lock(text) == {"tensorflow": "2.15.1", "tf-keras": "2.16.0"}


# ----------------------------------------------------------------------------- isolation


def test_loader_process_has_no_network_and_a_memory_limit():
    if os.name != "posix":
        pytest.skip("RLIMIT_AS and network namespaces are POSIX/Linux features")
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    threading.Thread(target=lambda: server.accept(), daemon=True).start()
    env = dict(os.environ)
    prefix, preexec, words = _isolation(env)
    code = ("import resource, socket, sys, os\n"
            f"s = socket.socket(); s.settimeout(5)\n"
            f"try:\n    s.connect(('127.0.0.1', {port})); reached = True\n"
            "except OSError:\n    reached = False\n"
            "print(reached, resource.getrlimit(resource.RLIMIT_AS)[0], os.environ.get('https_proxy'))")
    proc = subprocess.run([*prefix, sys.executable, "-I", "-c", code], capture_output=True, text=True,
                          env=env, preexec_fn=preexec, check=True)
    server.close()
    reached, limit, proxy = proc.stdout.split()
    assert int(limit) > 0 and "RLIMIT_AS" in words
    if no_network_prefix():
        assert reached == "False" and "no network" in words  # even loopback is gone in its own netns
    else:
        assert proxy.startswith("http://127.0.0.1:") and "not isolated" in words


# ----------------------------------------------------------------------------- end to end


def _without_probe(fixture: str, into: Path) -> Path:
    """A copy of a fixture whose sidecar keeps its versions (same pins, same env) but no probe."""
    work = into / fixture
    shutil.copytree(FIXTURES / fixture, work)
    sidecar = json.loads((work / "kresolve.json").read_text())
    sidecar["probe"] = None
    (work / "kresolve.json").write_text(json.dumps(sidecar))
    return work


@pytest.mark.e2e
@pytest.mark.parametrize("fixture,model,input_name,rule", [
    ("tf215-embedding-h5", "model.h5", "tokens", "embedding-indices<50"),
    ("keras3-textvectorization", "model.keras", "text", "vocabulary-strings"),
])
def test_int_and_string_input_models_prove(fixture, model, input_name, rule, tmp_path):
    result = api.lock(FIXTURES / fixture / model, out_dir=tmp_path / "out")
    smoke = result.smoke
    assert smoke.status == "passed" and smoke.compared, smoke
    assert smoke.probe_rules == ((input_name, "recorded-sidecar"),)
    assert all(d.ok and d.max_abs_diff <= 1e-5 for d in smoke.outputs)
    # Without a recording, the probe comes from the model's own input spec.
    bare = _without_probe(fixture, tmp_path)
    again = api.smoke(bare / model, tmp_path / "out" / "requirements.txt")
    assert again.status == "passed" and not again.compared and again.env_reused, again
    assert again.probe_rules == ((input_name, rule),)
    report = json.loads((tmp_path / "out" / "kresolve-report.json").read_text())
    assert report["smoke"]["probe_rules"] == [{"input": input_name, "rule": "recorded-sidecar"}]


@pytest.mark.e2e
def test_savedmodel_with_unserialized_randomflip_proves_through_the_fallback_loader(tmp_path):
    result = api.lock(FIXTURES / "tf215-randomflip-savedmodel" / "model", out_dir=tmp_path)
    assert result.environment.plan.route.loader == "tf.keras"
    smoke = result.smoke
    assert smoke.status == "passed" and smoke.compared and smoke.max_abs_diff <= 1e-5, smoke
    assert smoke.loader == "tf.saved_model" and smoke.route_id == "route-sm-tf2-saved_model"
    first = smoke.attempts[0]
    assert first.loader == "tf.keras" and not first.ok and "the call function was not serialized" in first.error
    report = json.loads((tmp_path / "kresolve-report.json").read_text())
    assert report["smoke"]["proved_by"] == "tf.saved_model"
    assert [a["loader"] for a in report["smoke"]["failed_loaders"]] == ["tf.keras"]
    proc = subprocess.run([sys.executable, "-m", "kresolve", "smoke", str(FIXTURES / "tf215-randomflip-savedmodel" / "model"),
                           "--lock", str(tmp_path / "requirements.txt")], check=False, capture_output=True, text=True)
    assert proc.returncode == 0 and "loader: tf.saved_model" in proc.stdout and "loader tf.keras failed" in proc.stdout


@pytest.mark.e2e
def test_misplaced_variables_prove_from_a_repaired_copy(tmp_path):
    before = _tree_digest(MISPLACED)
    result = api.lock(MISPLACED, out_dir=tmp_path / "out")
    smoke = result.smoke
    assert smoke.status == "passed" and smoke.compared and smoke.repaired == REPAIRED_NOTE, smoke
    report = json.loads((tmp_path / "out" / "kresolve-report.json").read_text())
    assert report["smoke"]["repaired"] == REPAIRED_NOTE
    assert _tree_digest(MISPLACED) == before
    bare = _without_probe("tf215-misplaced-variables-savedmodel", tmp_path)
    again = api.smoke(bare / "model", tmp_path / "out" / "requirements.txt")
    assert again.status == "passed" and again.probe_rules == (("image", "uniform-0..255"),), again


@pytest.mark.e2e
def test_weights_and_architecture_json_pair_proves_with_model_from_json(tmp_path):
    pair = FIXTURES / "tf215-weights-json"
    if not (pair / "model.json").exists():
        pytest.skip("the tf215-weights-json fixture is not there")
    result = api.lock(pair / "model.h5", out_dir=tmp_path)
    smoke = result.smoke
    assert smoke.status == "passed" and smoke.compared and smoke.max_abs_diff <= 1e-5, smoke
    assert smoke.loader == "tf.keras" and len(smoke.attempts) == 1
