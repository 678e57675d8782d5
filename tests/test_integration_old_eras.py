"""Older eras on the real index: standalone multi-backend Keras and TF1 SavedModels lock in the
stack of their time for targets whose Python still has its wheels (3.5-3.7); the smoke test,
which needs the target's interpreter, skips them on this host and says why."""

from __future__ import annotations

import pytest
from conftest import SHARED_MODELS
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from kresolve import api
from kresolve.artifact.facts import ModelFacts, ModelFormat
from kresolve.index import Cache
from kresolve.rules.db import load_rules
from kresolve.rules.plan import plans_for

FLATIRON = SHARED_MODELS / "keras22-flatiron-lab-hdf5" / "model.hdf5"
TF15_SM = SHARED_MODELS / "tf15-savedmodel-mnist"
TF114_SM = SHARED_MODELS / "tf114-estimator-savedmodel-sharded"


def _shared(path):
    return pytest.mark.skipif(not path.exists(), reason=f"needs ../shared/models ({path.parent.name if path.is_file() else path.name})")


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return Cache(tmp_path_factory.mktemp("cache"))


# ---- which routes a writer gets (no index) --------------------------------------------------------

def _h5(keras_version: str, backend: str | None) -> ModelFacts:
    return ModelFacts(path="m.h5", format=ModelFormat.H5, format_detail="test", keras_version=keras_version, backend=backend)


def test_standalone_writers_get_their_own_keras_first_and_tf_keras_writers_do_not():
    db = load_rules()
    first = {name: plans_for(facts, db)[0].route for name, facts in {
        "standalone-tf": _h5("2.2.4", "tensorflow"),
        "standalone-theano": _h5("2.1.6", "theano"),
        "keras1-unknown-backend": _h5("1.2.0", None),
        "tf.keras": _h5("2.2.4-tf", "tensorflow"),
    }.items()}
    assert first["standalone-tf"].loader == "keras.multibackend" and dict(first["standalone-tf"].env)["KERAS_BACKEND"] == "tensorflow"
    assert dict(first["standalone-theano"].env)["KERAS_BACKEND"] == "theano"
    assert first["keras1-unknown-backend"].loader == "keras.multibackend"
    assert any(r.name == "keras" and r.specifier.contains("1.2.2") for r in first["keras1-unknown-backend"].requires)
    assert first["tf.keras"].loader == "tf.keras"  # "-tf": written by tf.keras, loaded by it
    # Without wheels for the old stack, the tf.keras 2.x routes stay behind the standalone one.
    later = [p.route.loader for p in plans_for(_h5("2.2.4", "tensorflow"), db)[1:]]
    assert "tf.keras" in later


# ---- real index ----------------------------------------------------------------------------------

@pytest.mark.integration
@_shared(FLATIRON)
@pytest.mark.parametrize("python", ["3.6", "3.7"])
def test_standalone_keras_2_2_locks_keras_2_2_on_a_tensorflow_1_of_its_era(python, tmp_path, shared_cache):
    result = api.lock(FLATIRON, python=python, platform="linux-64", out_dir=tmp_path, smoke=False, cache=shared_cache)
    env = result.environment
    pins = {p.name: p.version for p in env.pins}
    assert env.plan.route.id == "route-h5-keras2-standalone-tensorflow"
    assert env.env_vars.get("KERAS_BACKEND") == "tensorflow"
    assert Version(pins["keras"]) in SpecifierSet(">=2.2,<2.3")
    # The TensorFlow range standalone Keras 2.2 ran on (rules/legacy-keras.toml, era-keras-standalone-2.2).
    assert Version(pins["tensorflow"]) in SpecifierSet(">=1.7,<2")
    assert Version(pins["h5py"]) < Version("3")


@pytest.mark.integration
@_shared(TF114_SM)
def test_tf1_14_savedmodel_locks_tensorflow_1_14_for_python_3_7(tmp_path, shared_cache):
    result = api.lock(TF114_SM, python="3.7", platform="linux-64", out_dir=tmp_path, smoke=False, cache=shared_cache)
    env = result.environment
    assert env.plan.route.loader == "tf.compat.v1.saved_model"
    tf = next(p for p in env.pins if p.name == "tensorflow")
    assert tf.version.startswith("1.14."), tf.version


@pytest.mark.integration
@_shared(TF15_SM)
def test_tf1_5_savedmodel_locks_a_tensorflow_1_no_older_than_its_writer_for_python_3_6(tmp_path, shared_cache):
    result = api.lock(TF15_SM, python="3.6", platform="linux-64", out_dir=tmp_path, smoke=False, cache=shared_cache)
    env = result.environment
    assert env.plan.route.loader == "tf.compat.v1.saved_model"
    tf = next(p for p in env.pins if p.name == "tensorflow")
    assert Version(tf.version) in SpecifierSet(">=1.5,<2"), tf.version
    # TensorFlow 1.5-1.8 need tensorboard's html5lib==0.9999999, an sdist without static metadata
    # (its dependencies are known only by running setup.py, which kresolve does not do at lock
    # time): until that changes the nearest lockable line is later, and the pin says why.
    if not tf.version.startswith("1.5."):
        assert tf.why_not_preferred


@pytest.mark.integration
@_shared(FLATIRON)
def test_the_smoke_test_skips_an_old_era_target_here_and_says_why(tmp_path, shared_cache):
    result = api.lock(FLATIRON, python="3.6", platform="linux-64", out_dir=tmp_path, smoke=True, cache=shared_cache)
    assert result.smoke is not None and result.smoke.status == "skipped"
    assert "3.6" in result.smoke.reason
