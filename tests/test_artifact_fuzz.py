"""Truncated and bit-flipped copies of real models: `inspect` returns facts or raises BadInput,
nothing else (no other exception, no crash of the test process, no hang)."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kresolve.artifact import BadInput, ModelFacts, inspect

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "models"
if not SHARED.is_dir():
    pytest.skip(f"shared models not found at {SHARED}", allow_module_level=True)

H5 = SHARED / "keras23-small-dense" / "my_model.h5"
LAMBDA_H5 = SHARED / "keras20-carnd-lambda" / "model.h5"
KERAS = SHARED / "keras215-zip-custom-tfp" / "custom_model.keras"
SAVEDMODEL = SHARED / "tf28-savedmodel-keras-metadata"

FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
_counter = itertools.count()


def mutations(size: int, hot: int):
    """Truncate somewhere, or flip 1-8 bits: anywhere, or in the first `hot` bytes (headers,
    attribute and member tables live there in these small files)."""
    flips = st.lists(
        st.tuples(st.one_of(st.integers(0, size - 1), st.integers(0, min(hot, size) - 1)),
                  st.integers(0, 7)),
        min_size=1, max_size=8,
    )
    return st.one_of(st.tuples(st.just("cut"), st.integers(0, size - 1)), st.tuples(st.just("flip"), flips))


def mutate(data: bytes, mutation) -> bytes:
    kind, arg = mutation
    if kind == "cut":
        return data[:arg]
    out = bytearray(data)
    for position, bit in arg:
        out[position] ^= 1 << bit
    return bytes(out)


def check(path: Path) -> None:
    try:
        facts = inspect(path)
    except BadInput as err:
        assert "\n" not in str(err)
        return
    assert isinstance(facts, ModelFacts)


def file_case(source: Path):
    data = source.read_bytes()

    @FUZZ
    @given(mutation=mutations(len(data), 4096))
    def run(tmp_path, mutation):
        path = tmp_path / f"{next(_counter)}{source.suffix}"
        path.write_bytes(mutate(data, mutation))
        check(path)
        path.unlink()

    return run


test_fuzz_h5 = file_case(H5)
test_fuzz_lambda_h5 = file_case(LAMBDA_H5)
test_fuzz_keras_zip = file_case(KERAS)


@pytest.fixture
def savedmodel_copy(tmp_path) -> Path:
    target = tmp_path / "sm"
    shutil.copytree(SAVEDMODEL, target)
    os.chmod(target, 0o755)
    for member in ("saved_model.pb", "keras_metadata.pb"):
        os.chmod(target / member, 0o644)
    return target


@pytest.mark.parametrize("member", ["saved_model.pb", "keras_metadata.pb"])
def test_fuzz_savedmodel(savedmodel_copy, member):
    original = (SAVEDMODEL / member).read_bytes()

    @FUZZ
    @given(mutation=mutations(len(original), 2048))
    def run(mutation):
        (savedmodel_copy / member).write_bytes(mutate(original, mutation))
        check(savedmodel_copy)

    run()
