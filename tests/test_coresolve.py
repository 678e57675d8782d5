"""One environment for many models (`kresolve lock A B C`): real fixtures, the real rules DB and
solver, a local index of real-format wheels (tests/scanworld.py)."""

from __future__ import annotations

import json
import os

import pytest
from conftest import FIXTURES
from scanworld import TF_215_ONLY, build_world

from kresolve.artifact import inspect
from kresolve.errors import Unsolvable
from kresolve.index import Cache, Index, IndexConfig
from kresolve.rules.db import load_rules
from kresolve.rules.infer import infer
from kresolve.rules.plan import plans_for
from kresolve.scan.cover import serves
from kresolve.scan.evaluate import _needs
from kresolve.smoke.run import pins_in_lock
from kresolve.solve.many import CoConflict, Member, co_resolve, combinations, merge_preferences, steps
from kresolve.solve.resolve import solve
from kresolve.target import make_target
from kresolve.together import lock_many

TF215_H5 = FIXTURES / "tf215-h5" / "model.h5"
TF215_SM = FIXTURES / "tf215-savedmodel" / "model"
KERAS3 = FIXTURES / "keras3-zip" / "model.keras"
TARGET = ("3.11", "linux-64")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    return IndexConfig(build_world(root / "index")), Cache(root / "cache")


def _lock(world, models, out, **kw):
    config, cache = world
    return lock_many(models, *TARGET, out_dir=out, smoke=False, index_config=config, cache=cache, **kw)


def test_steps_counts_release_lines():
    assert steps("2.15.1", "2.15.1") == 0 and steps("2.15.0", "2.15.1") == 0.1
    assert steps("2.17.1", "2.15.1") == 2 and steps("2.17.1", "2.15") == 2
    assert steps("3.0.0", "2.15.0") >= 1000 and steps("1.26.4", ">=1.22,<2") == 0


def test_models_of_one_era_share_their_own_nearest_environment(world, tmp_path):
    result = _lock(world, [TF215_H5, TF215_SM], tmp_path)
    co = result.together
    pins = {p.name: p.version for p in co.environment.pins}
    assert pins["tensorflow"] == "2.15.1" and pins["keras"] == "2.15.0"
    assert co.total == 0 and [m.loader for m in co.members] == ["tf.keras", "tf.keras"]
    assert co.tried == 1  # every model on its first route solved at once
    report = json.loads((tmp_path / "kresolve-report.json").read_text())
    assert [m["model"] for m in report["models"]] == [str(TF215_H5), str(TF215_SM)]
    lock = (tmp_path / "requirements.txt").read_text()
    assert "tensorflow==2.15.1" in lock and str(TF215_SM) in lock


def test_different_eras_co_resolve_on_route_combinations_nearest_by_summed_distance(world, tmp_path):
    result = _lock(world, [TF215_H5, KERAS3, TF215_SM], tmp_path)
    co = result.together
    pins = {p.name: p.version for p in co.environment.pins}
    # The Keras 2 models cannot stay on tf.keras (TensorFlow < 2.16) beside a Keras 3 model:
    # they move to a route that works with TensorFlow >= 2.16, and Keras 3 stays exact.
    assert pins["keras"] == "3.15.1" and pins["tensorflow"] >= "2.17"
    fits = {m.name: m for m in co.members}
    assert fits[str(KERAS3)].loader == "keras"
    assert all(fits[str(m)].route_id != "route-h5-keras2-tf.keras" for m in (TF215_H5, TF215_SM))
    assert co.tried > 1 and co.total == sum(m.distance for m in co.members)
    # Every model's chosen route is satisfied by the one lock, markers and all.
    rules = load_rules()
    locked = pins_in_lock((tmp_path / "requirements.txt").read_text())
    for path in (TF215_H5, KERAS3, TF215_SM):
        facts = inspect(path)
        plan = next(p for p in plans_for(facts, rules) if p.route.id == fits[str(path)].route_id)
        assert serves(_needs(plan), locked, make_target(*TARGET))
    # Disagreeing preferences: per package the one nearest to all, said in words.
    assert any(w.startswith("tensorflow: models disagree") and "minimises the summed distance" in w for w in co.merged)
    # Nearest: no other solved combination of the first few has a smaller (sum, worst).
    assert co.total <= _best_other(world, [TF215_H5, KERAS3, TF215_SM])


def _best_other(world, paths) -> float:
    config, cache = world
    rules = load_rules()
    index = Index(config, cache)
    members = [Member(str(p), tuple(plans_for(f, rules, (), infer(f, rules))))
               for p in paths for f in [inspect(p)]]
    best = float("inf")
    try:
        for combo in combinations(members, 6):
            try:
                co = co_resolve([Member(m.name, (p,)) for m, p in zip(members, combo)],
                                lambda plans: solve(plans, make_target(*TARGET), index, rules), max_combinations=1,
                                explain=False)
            except CoConflict:
                continue
            best = min(best, co.total)
    finally:
        index.close()
    return best


def test_merge_picks_the_preference_nearest_to_all_models():
    from kresolve.rules.evidence import Evidence
    from kresolve.rules.plan import Plan, Preference

    route = load_rules().routes[0]
    plans = [Plan(route, (), (Preference("tensorflow", v, Evidence.SIDECAR, "recorded"),)) for v in ("2.15.1", "2.15.1", "2.19.0")]
    merged, words = merge_preferences(plans, ["a", "b", "c"])
    assert merged[0].version == "2.15.1" and "a prefers 2.15.1" in words[0] and "c prefers 2.19.0" in words[0]


def test_a_model_that_cannot_join_is_named_with_why(world, tmp_path):
    policy = tmp_path / "p.toml"
    policy.write_text(TF_215_ONLY)
    with pytest.raises(CoConflict) as info:
        _lock(world, [TF215_H5, KERAS3], tmp_path / "out", policy=policy)
    message = str(info.value)
    assert f"{KERAS3} does not solve on its own" in message and "tf 2.15 stack" in message
    assert info.value.alone[0][0] == str(KERAS3)
    assert not (tmp_path / "out" / "requirements.txt").exists()


def test_pairs_that_cannot_share_an_environment_are_named(world):
    # tf215-h5 held to its first route (tf.keras: TensorFlow < 2.16) beside the Keras 3 model
    # (TensorFlow >= 2.16): each solves alone, the pair does not.
    config, cache = world
    rules = load_rules()
    h5 = Member("h5", tuple(plans_for(inspect(TF215_H5), rules)[:1]))
    k3 = Member("k3", tuple(plans_for(inspect(KERAS3), rules)))
    sm = Member("sm", tuple(plans_for(inspect(TF215_SM), rules)[:1]))
    index = Index(config, cache)
    try:
        with pytest.raises(CoConflict) as info:
            co_resolve([h5, k3, sm], lambda plans: solve(plans, make_target(*TARGET), index, rules))
    finally:
        index.close()
    pairs = {(a, b) for a, b, _ in info.value.pairs}
    assert pairs == {("h5", "k3"), ("k3", "sm")}
    why = {(a, b): w for a, b, w in info.value.pairs}[("h5", "k3")]
    assert "tensorflow" in why
    assert "h5 conflicts with k3" in str(info.value) and not info.value.alone


def test_cli_lock_with_several_models(world, tmp_path, capsys, monkeypatch):
    from kresolve.cli import main

    config, cache = world
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("KRESOLVE_CACHE_DIR", str(cache.root))
    code = main(["lock", str(TF215_H5), str(TF215_SM), "--python", "3.11", "-p", "linux-64", "--no-smoke",
                 "-i", config.index_url, "-o", str(tmp_path / "o"), "--json"])
    assert code == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert len(report["models"]) == 2 and report["together"]["total_distance"] == 0
    policy = tmp_path / "p.toml"
    policy.write_text(TF_215_ONLY)
    code = main(["lock", str(TF215_H5), str(KERAS3), "--python", "3.11", "-p", "linux-64", "--no-smoke",
                 "-i", config.index_url, "-o", str(tmp_path / "o2"), "--policy", str(policy)])
    err = capsys.readouterr().err
    assert code == 1 and "does not solve on its own" in err and "Traceback" not in err
    assert issubclass(CoConflict, Unsolvable)  # exit 1, like any unsolvable lock
