from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))  # test helpers (localindex)

FIXTURES = TESTS / "fixtures" / "models"
SHARED_MODELS = TESTS.parents[1] / "shared" / "models"


@pytest.fixture
def cache(tmp_path):
    from kresolve.index import Cache

    return Cache(tmp_path / "cache")
