"""The nearest objective (DESIGN.md "Nearest") on a real local index of small wheels: greedy
pinning's failure, the lexicographic fix, inherited preferences and the era cap."""

from datetime import date

import pytest
from localindex import make_wheel, serve, write_simple_index
from packaging.version import Version
from resolvelib import BaseReporter, Resolver

from kresolve.artifact.facts import ModelFacts, ModelFormat
from kresolve.errors import Unsolvable
from kresolve.index import Index, IndexConfig
from kresolve.index.dates import Dater, parse_user_date
from kresolve.rules.db import load_rules
from kresolve.rules.infer import infer
from kresolve.rules.plan import INHERITED, plans_for
from kresolve.solve.provider import Provider, Req
from kresolve.solve.resolve import solve
from kresolve.target import make_target

LINUX = "cp311-cp311-manylinux_2_17_x86_64"

RULES = """
[[route]]
id = "route-test-keras3"
format = "keras-h5"
writer_keras = ">=3.0,<4"
rank = 10
loader = "keras"
requires = ["keras>=3.0", "tensorflow>=2.16"]
reason = "test route: Keras 3 reads its own HDF5"
source = "test:tests/test_nearest_objective.py"

[[route]]
id = "route-test-tf_keras"
format = "keras-h5"
writer_keras = ">=2.0,<3"
rank = 20
loader = "tf_keras"
requires = ["tensorflow>=2.16", "tf-keras"]
reason = "test route: Keras 2 through tf-keras"
source = "test:tests/test_nearest_objective.py"

[[route]]
id = "route-test-savedmodel"
format = "savedmodel"
writer_tensorflow = ">=2.0,<2.16"
rank = 10
loader = "tf.keras"
requires = ["tensorflow<2.16"]
reason = "test route: a TF 2 SavedModel"
source = "test:tests/test_nearest_objective.py"

[[era]]
id = "era-test-keras-2.4"
keras_version = ">=2.4,<2.5"
prefer = { tensorflow = "2.4" }
reason = "tf.keras 2.4 ships inside TensorFlow 2.3/2.4"
source = "test:tests/test_nearest_objective.py"

[[era]]
id = "era-test-tf-2.3"
tensorflow_version = ">=2.3,<2.4"
prefer = { tensorflow = "2.3" }
reason = "the SavedModel records TensorFlow 2.3"
source = "test:tests/test_nearest_objective.py"
"""

PAIRING = """
[[era]]
id = "era-test-keras3.10-tensorflow"
keras_version = ">=3.10,<3.11"
prefer = { tensorflow = "2.19" }
reason = "Keras 3.10 came out when TensorFlow 2.19 was the newest line"
source = "test:tests/test_nearest_objective.py"
"""


def _index(tmp_path, cache, extra_rules=""):
    write_simple_index(tmp_path / "repo")
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "test.toml").write_text(RULES + extra_rules)
    return Index(IndexConfig((tmp_path / "repo" / "simple").as_uri()), cache), load_rules(tmp_path / "rules")


@pytest.fixture
def keras3_world(tmp_path, cache):
    files = tmp_path / "repo" / "files"
    for v in ("3.10.0", "3.12.0"):
        make_wheel(files, "keras", v, requires=["numpy"])
    make_wheel(files, "tensorflow", "2.19.0", requires=["keras>=3.5.0", "numpy<2.2"], tag=LINUX)
    make_wheel(files, "tensorflow", "2.20.0", requires=["keras>=3.10.0", "numpy"], tag=LINUX)
    make_wheel(files, "tensorflow", "2.21.0", requires=["keras>=3.12.0", "numpy"], tag=LINUX)
    for v in ("2.1.3", "2.3.0"):
        make_wheel(files, "numpy", v)
    return tmp_path, files


def keras3_facts():
    return ModelFacts(path="m.h5", format=ModelFormat.H5, format_detail="", keras_version="3.10.0")


def pins(env):
    return {p.name: p.version for p in env.pins}


def test_greedy_pinning_moves_the_recorded_keras_and_the_objective_keeps_it(keras3_world, cache):
    tmp_path, _ = keras3_world
    index, rules = _index(tmp_path, cache)
    plan = plans_for(keras3_facts(), rules)[0]
    target = make_target("3.11", "linux-64")
    # resolvelib alone: keras 3.10.0 is pinned first, then the newest TensorFlow wants keras>=3.12
    # and resolvelib re-pins keras to 3.12.0 — the file's own Keras version is lost.
    provider = Provider(index, target, rules, {p.name: p.version for p in plan.preferences})
    greedy = Resolver(provider, BaseReporter()).resolve([Req(n.requirement) for n in plan.needs])
    assert str(greedy.mapping["keras"].version) == "3.12.0" and str(greedy.mapping["tensorflow"].version) == "2.21.0"
    # The objective: keras first (exact), then the nearest TensorFlow that goes with it.
    env = solve([plan], target, index, rules)
    assert pins(env)["keras"] == "3.10.0" and pins(env)["tensorflow"] == "2.20.0"
    keras = next(p for p in env.pins if p.name == "keras")
    assert keras.distance_text == "exact" and env.nearest_trials >= 1
    # The objective's own trial requirements are not reasons the model gives.
    assert "fixed by the objective" not in keras.reason and "nearest to the preferred" not in keras.reason


def test_tensorflow_follows_the_keras3_release_it_shipped_with(keras3_world, cache):
    tmp_path, _ = keras3_world
    index, rules = _index(tmp_path, cache, PAIRING)
    facts = keras3_facts()
    assert infer(facts, rules).get("tensorflow").preferred == "2.19"
    env = solve(plans_for(facts, rules), make_target("3.11", "linux-64"), index, rules)
    got = pins(env)
    assert got["keras"] == "3.10.0" and got["tensorflow"] == "2.19.0" and got["numpy"] == "2.1.3"
    assert env.nearest_trials == 0  # the preference serves resolvelib's own order: no retries


@pytest.fixture
def keras24_world(tmp_path, cache):
    files = tmp_path / "repo" / "files"
    for v in ("2.16.1", "2.17.0"):
        make_wheel(files, "tensorflow", v, requires=["numpy"], tag=LINUX)
        make_wheel(files, "tf-keras", v[:4] + ".0", requires=[f"tensorflow>={v[:4]},<2.{int(v[2:4]) + 1}"])
    make_wheel(files, "numpy", "1.26.4")
    return _index(tmp_path, cache)


def test_tf_keras_inherits_tensorflows_line_and_a_keras2_writer_gets_the_smallest_jump(keras24_world):
    index, rules = keras24_world
    facts = ModelFacts(path="m.h5", format=ModelFormat.H5, format_detail="", keras_version="2.4.0")
    plan = plans_for(facts, rules)[-1]
    assert plan.route.loader == "tf_keras"
    tf_keras = plan.preference("tf-keras")
    # TensorFlow 2.4 is preferred; this route needs >=2.16: the nearest line is 2.16, not the newest.
    assert tf_keras.version == "2.16" and tf_keras.evidence == INHERITED
    env = solve([plan], make_target("3.11", "linux-64"), index, rules)
    assert pins(env)["tensorflow"] == "2.16.1" and pins(env)["tf-keras"] == "2.16.0"


# -- the era cap -------------------------------------------------------------------------------

def _stamp(d: str) -> tuple[int, int, int, int, int, int]:
    y, m, day = map(int, d.split("-"))
    return (y, m, day, 12, 30, 0)


@pytest.fixture
def tf23_world(tmp_path, cache):
    files = tmp_path / "repo" / "files"
    make_wheel(files, "tensorflow", "2.3.0", requires=["wrapt>=1.11", "grpcio>=1.8"], tag=LINUX,
               date_time=_stamp("2020-07-27"))
    for v, d in (("1.10.0", "2019-05-01"), ("1.12.0", "2020-03-01"), ("1.13.0", "2021-09-01"), ("2.0.0", "2025-10-01")):
        make_wheel(files, "wrapt", v, date_time=_stamp(d))
    for v, d in (("1.30.0", "2020-06-23"), ("1.70.0", "2025-01-22")):
        make_wheel(files, "grpcio", v, date_time=_stamp(d))
    return _index(tmp_path, cache)


def tf23_facts():
    return ModelFacts(path="sm", format=ModelFormat.SAVEDMODEL, format_detail="", tensorflow_version="2.3.0")


def test_packages_without_evidence_come_from_the_era_of_the_locked_tensorflow(tf23_world):
    index, rules = tf23_world
    target = make_target("3.11", "linux-64")
    today = solve(plans_for(tf23_facts(), rules), target, index, rules, era_cap=False)
    assert pins(today)["wrapt"] == "2.0.0" and pins(today)["grpcio"] == "1.70.0" and today.cutoff is None
    env = solve(plans_for(tf23_facts(), rules), target, index, rules)
    assert pins(env)["wrapt"] == "1.12.0" and pins(env)["grpcio"] == "1.30.0"
    assert env.cutoff.date == date(2020, 7, 27) and not env.cutoff.hard
    assert "tensorflow 2.3.0" in env.cutoff.source and "wheel timestamp" in env.cutoff.source
    wrapt = next(p for p in env.pins if p.name == "wrapt")
    assert wrapt.released == "2020-03-01" and wrapt.date_source == "wheel timestamp"
    assert "before the cut-off 2020-07-27" in wrapt.date_rule


def test_soft_cap_takes_the_nearest_later_release_when_nothing_earlier_fits_and_hard_cap_refuses(tf23_world, tmp_path):
    index, rules = tf23_world
    target = make_target("3.11", "linux-64")
    from packaging.requirements import Requirement

    from kresolve.rules.plan import Need

    need = (Need(Requirement("wrapt>=1.13"), "asked for with --requirement"),)
    env = solve(plans_for(tf23_facts(), rules, need), target, index, rules)
    wrapt = next(p for p in env.pins if p.name == "wrapt")
    assert wrapt.version == "1.13.0"  # the nearest in time after the cut-off, not the newest (2.0.0)
    assert "after the cut-off" in wrapt.date_rule
    with pytest.raises(Unsolvable, match="released after --exclude-newer 2020-08-01"):
        solve(plans_for(tf23_facts(), rules, need), target, index, rules, exclude_newer=date(2020, 8, 1))
    hard = solve(plans_for(tf23_facts(), rules), target, index, rules, exclude_newer=date(2020, 8, 1))
    assert hard.cutoff.hard and pins(hard)["wrapt"] == "1.12.0"


def test_binary_search_dates_few_files_and_skips_placeholder_timestamps(tmp_path, cache):
    files = tmp_path / "repo" / "files"
    for i in range(16):  # one release a month through 2020 and 2021
        make_wheel(files, "mono", f"1.{i}.0", date_time=(2020 + i // 12, i % 12 + 1, 15, 10, 0, 0))
    for i in range(4):  # reproducible-build placeholders: the same midnight for every release
        make_wheel(files, "repro", f"2.{i}.0", date_time=(2020, 1, 1, 0, 0, 0))
    write_simple_index(tmp_path / "repo")
    url, faults, server = serve(tmp_path / "repo")
    try:
        index = Index(IndexConfig(f"{url}/simple"), cache)
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "test.toml").write_text(RULES)
        provider = Provider(index, make_target("3.11", "linux-64"), load_rules(tmp_path / "rules"), {})
        dater = Dater(index)
        found = dater.boundary("mono", date(2020, 6, 30), provider._versions)
        assert found.known and found.before(Version("1.5.0")) and found.before(Version("1.6.0")) is False
        dated = {h for h in faults.hits if h.startswith("/files/mono-")}
        assert 0 < len(dated) <= 6  # log2(16) + 1 probes, not 16 files
        assert not dater.boundary("repro", date(2020, 6, 30), provider._versions).known
        dater.close()
        # Dates are cached by file hash: a second search asks the server for nothing.
        before = len(faults.hits)
        again = Dater(index)
        assert again.boundary("mono", date(2020, 6, 30), provider._versions).before(Version("1.6.0")) is False
        assert not [h for h in faults.hits[before:] if h.startswith("/files/")]
        again.close()
    finally:
        server.shutdown()


def test_exclude_newer_accepts_uvs_formats():
    assert parse_user_date("2020-08-01") == date(2020, 8, 1)
    assert parse_user_date("2020-08-01T23:30:00Z") == date(2020, 8, 1)
    assert parse_user_date("2020-08-01T23:30:00-02:00") == date(2020, 8, 2)
    for bad in ("2020-13-01", "yesterday", "2020-08-01T10:00:00"):
        with pytest.raises(ValueError):
            parse_user_date(bad)


# -- the save-date eras -------------------------------------------------------------------------

def test_the_recorded_writer_version_beats_the_save_date():
    rules = load_rules()
    keras2 = ModelFacts(path="m.keras", format=ModelFormat.KERAS_ZIP, format_detail="", keras_version="2.15.0",
                        date_saved="2024-01-08@12:46:29")
    training = infer(keras2, rules)
    assert not [r for e in training.estimates for r in e.rule_ids if r.startswith("era-keras3-saved")]
    assert training.get("tensorflow").preferred == "2.15" and "date_saved" not in training.decided_by
    keras3 = ModelFacts(path="m.keras", format=ModelFormat.KERAS_ZIP, format_detail="", keras_version="3.0.5",
                        date_saved="2024-01-08@12:46:29")
    assert "era-keras3-saved-before-tf-2.16" in infer(keras3, rules).get("tensorflow").rule_ids


def test_hard_cap_searches_every_older_line_so_backported_patches_stay_out(tmp_path, cache):
    files = tmp_path / "repo" / "files"
    for v, d in (("2.1.0", "2020-01-08"), ("2.1.4", "2021-05-13"), ("2.2.0", "2020-05-07"), ("2.2.3", "2021-05-13"),
                 ("2.3.0", "2020-07-27"), ("2.3.4", "2021-08-23"), ("2.4.0", "2020-12-14")):
        make_wheel(files, "tfish", v, date_time=_stamp(d))
    index, rules = _index(tmp_path, cache)
    provider = Provider(index, make_target("3.11", "linux-64"), rules, {})
    dater = Dater(index)
    try:
        hard = dater.boundary("tfish", date(2020, 8, 1), provider._versions, hard=True)
        assert [v for v in ("2.1.0", "2.1.4", "2.2.0", "2.2.3", "2.3.0", "2.3.4", "2.4.0") if hard.before(Version(v))] == [
            "2.1.0", "2.2.0", "2.3.0"]
        soft = dater.boundary("tfish", date(2020, 8, 1), provider._versions)
        assert soft.before(Version("2.3.0")) and soft.before(Version("2.3.4")) is False and soft.before(Version("2.4.0")) is False
    finally:
        dater.close()


def test_keras_and_tensorboard_follow_tensorflow_on_a_tf_keras_route(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "test.toml").write_text(RULES)
    rules = load_rules(tmp_path / "rules")
    facts = ModelFacts(path="sm", format=ModelFormat.SAVEDMODEL, format_detail="", tensorflow_version="2.12.0")
    plan = plans_for(facts, rules)[0]
    assert plan.preference("tensorflow").version == "2.12.0"
    for name in ("keras", "tensorboard", "tensorflow-estimator"):
        assert plan.preference(name).version == "2.12" and plan.preference(name).evidence == INHERITED
    old = plans_for(tf23_facts(), rules)[0]
    assert old.preference("keras") is None  # TensorFlow 2.3 has no keras package to follow it


def test_shared_keras215_keras_file_saved_in_january_2024_is_not_taken_for_keras3():
    from conftest import SHARED_MODELS

    from kresolve.artifact import inspect

    path = SHARED_MODELS / "keras215-zip-custom-tfp" / "custom_model.keras"
    if not path.exists():
        pytest.skip(f"shared test data not found at {path}")
    facts = inspect(path)
    assert facts.keras_version == "2.15.0" and facts.date_saved.startswith("2024-01-08")
    tf = infer(facts, load_rules()).get("tensorflow")
    assert tf.preferred == "2.15" and not [r for r in tf.rule_ids if r.startswith("era-keras3")]
