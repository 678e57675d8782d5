"""The smoke test's verdict, apart from run.py so that renderers name it without loading the smoke
machinery (environments, subprocesses) until a smoke test runs."""

from __future__ import annotations

from enum import StrEnum


class SmokeStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # not run: another host's target, no GPU, or Lambda layers without --trust-model
