"""The seed situations of the rules database, on real model files and the real index.

(The other two seeds — a custom layer whose code is not provided, and a Keras 2 SavedModel where
only Keras 3 is approved — run end to end in tests/test_e2e_smoke.py.)
"""

import pytest
from conftest import SHARED_MODELS
from packaging.version import Version

from kresolve import api
from kresolve.index import Cache

pytestmark = pytest.mark.integration

# tf.keras 2.4.0 wrote this (TF 2.4 era, Python 3.5-3.8, NumPy 1.19): a third-party file.
KERAS24_H5 = SHARED_MODELS / "tfkeras24-functional-hdf5" / "model.hdf5"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return Cache(tmp_path_factory.mktemp("cache"))


def pins(result):
    return {p.name: p for p in result.environment.pins}


def test_tf24_era_h5_served_on_python_310_gets_the_nearest_installable_stack(tmp_path, cache):
    if not KERAS24_H5.exists():
        pytest.skip(f"shared test data not found at {KERAS24_H5}")
    result = api.lock(KERAS24_H5, python="3.10", platform="linux-64", out_dir=tmp_path, smoke=False, cache=cache)
    got = pins(result)
    tf = got["tensorflow"]
    # TF 2.4-2.7 publish no cp310 wheels: 2.8 is the nearest installable line.
    assert tf.version.startswith("2.8.") and tf.preferred == "2.4"
    assert "no wheel for Python 3.10" in tf.why_not_preferred
    # Its NumPy is as close to the training range (1.19) as TF 2.8 allows, and protobuf stays < 4.
    numpy = got["numpy"]
    assert numpy.distance_text == "outside the training range" and Version(numpy.version) < Version("1.22")
    assert "numpy>=1.20" in numpy.why_not_preferred
    assert Version(got["protobuf"].version) < Version("4")
    assert got["keras"].version.startswith("2.8.")


def test_keras24_h5_in_a_keras27_world(tmp_path, cache):
    if not KERAS24_H5.exists():
        pytest.skip(f"shared test data not found at {KERAS24_H5}")
    policy = tmp_path / "k27.toml"
    policy.write_text('[policy]\nname = "keras 2.7 world"\n'
                      '[[allow]]\npackage = "tensorflow"\nversions = "==2.7.*"\nreason = "the fleet runs TF 2.7"\n'
                      '[[allow]]\npackage = "keras"\nversions = "==2.7.*"\nreason = "the fleet runs Keras 2.7"\n')
    result = api.lock(KERAS24_H5, python="3.9", platform="linux-64", out_dir=tmp_path / "o", smoke=False, cache=cache,
                      policy=policy)
    got = pins(result)
    assert got["tensorflow"].version.startswith("2.7.") and got["keras"].version.startswith("2.7.")
    assert "policy 'keras 2.7 world'" in got["tensorflow"].why_not_preferred
    # With Python 3.9 the training-era NumPy (1.19) is installable, so it is kept.
    assert got["numpy"].distance_text == "within the training range"
    assert result.report.to_json()["inputs"]["policy"]["name"] == "keras 2.7 world"
