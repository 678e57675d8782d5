"""The nearest objective and the era cap on the real index, with the shared third-party models
(issue 8's examples). Each test is one `lock --no-smoke`; the cache is shared by the module."""

from datetime import date

import pytest
from conftest import SHARED_MODELS
from packaging.version import Version

from kresolve import api
from kresolve.index import Cache

pytestmark = pytest.mark.integration

TEACHABLE = SHARED_MODELS / "tfkeras24-teachable-machine" / "keras_model.h5"  # keras_version 2.4.0
FUNCTIONAL = SHARED_MODELS / "tfkeras24-functional-hdf5" / "model.hdf5"  # keras_version 2.4.0
CHURN = SHARED_MODELS / "keras3-legacy-h5-churn" / "model.h5"  # keras_version 3.10.0
TF23 = SHARED_MODELS / "tf23-savedmodel-linear"  # tensorflow_version 2.3.0


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return Cache(tmp_path_factory.mktemp("cache"))


def need(path):
    if not path.exists():
        pytest.skip(f"shared test data not found at {path}")


def pins(result):
    return {p.name: p for p in result.environment.pins}


def test_keras2_writer_through_tf_keras_gets_the_oldest_tensorflow_line_that_installs(tmp_path, cache):
    need(TEACHABLE)
    got = pins(api.lock(TEACHABLE, python="3.12", platform="linux-64", out_dir=tmp_path, smoke=False, cache=cache))
    # Before: TensorFlow 2.21 + tf-keras 2.21 + NumPy 2 + protobuf 7 (the newest that resolves).
    assert got["tensorflow"].version.startswith("2.16.") and got["tensorflow"].preferred == "2.4"
    assert got["tf-keras"].version.startswith("2.16.") and got["tf-keras"].evidence == "inherited"
    assert Version(got["numpy"].version) < Version("2") and Version(got["protobuf"].version) < Version("5")


def test_on_python_313_the_nearest_line_is_2_20(tmp_path, cache):
    need(FUNCTIONAL)
    got = pins(api.lock(FUNCTIONAL, python="3.13", platform="linux-64", out_dir=tmp_path, smoke=False, cache=cache))
    assert got["tensorflow"].version.startswith("2.20.") and got["tf-keras"].version.startswith("2.20.")
    # 2.16-2.19 publish no cp313 wheels; the route itself needs TensorFlow >= 2.16.
    assert "tensorflow>=2.16" in got["tensorflow"].why_not_preferred


def test_the_keras_version_the_file_records_wins_and_tensorflow_follows_it(tmp_path, cache):
    need(CHURN)
    result = api.lock(CHURN, python="3.12", platform="linux-64", out_dir=tmp_path, smoke=False, cache=cache)
    got = pins(result)
    # Before: keras 3.12.4 with TensorFlow 2.21 (whose METADATA wants keras>=3.12).
    assert got["keras"].version == "3.10.0" and got["keras"].distance_text == "exact"
    assert got["tensorflow"].version.startswith("2.19.")
    assert result.environment.plan.preference("tensorflow").rule_id == "era-keras3.10-tensorflow"


def test_a_tensorflow_23_environment_comes_from_2020(tmp_path, cache):
    need(TF23)
    result = api.lock(TF23, python="3.8", platform="linux-64", out_dir=tmp_path, smoke=False, cache=cache)
    got = pins(result)
    env = result.environment
    assert got["tensorflow"].version == "2.3.0"
    assert env.cutoff is not None and env.cutoff.date.year == 2020 and "tensorflow 2.3.0" in env.cutoff.source
    # Before: tensorboard 2.14, wrapt 2.x, grpcio 1.70.
    assert got["tensorboard"].version.startswith("2.3.")
    assert Version(got["wrapt"].version) < Version("2") and Version(got["grpcio"].version) < Version("1.31")
    grpcio = got["grpcio"]
    assert grpcio.released and date.fromisoformat(grpcio.released) <= env.cutoff.date and grpcio.date_source
    report = result.report.to_json()["environment"]
    assert report["cutoff"]["hard"] is False and any(p["date_rule"] for p in report["pins"])


def test_exclude_newer_is_a_hard_cap_for_every_package(tmp_path, cache):
    need(TF23)
    result = api.lock(TF23, python="3.8", platform="linux-64", out_dir=tmp_path, smoke=False, cache=cache,
                      exclude_newer="2020-07-01")
    env = result.environment
    assert env.cutoff.hard and env.cutoff.date == date(2020, 7, 1)
    # TensorFlow 2.3.0 came out on 2020-07-27: the nearest line released before the cap is 2.2.
    assert pins(result)["tensorflow"].version.startswith("2.2.")
    assert all(date.fromisoformat(p.released) <= date(2020, 7, 1) for p in env.pins if p.released)
    assert result.report.to_json()["inputs"]["exclude_newer"] == "2020-07-01"
