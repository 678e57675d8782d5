"""Fleet scans: every model under some paths against a policy and targets (`kresolve scan`).

fleet.py (the rows and cells, JSON round trip) · evaluate.py (one model: inspect, solve per
target) · runner.py (smoke tests in parallel locally, or everything on Dask) · cover.py (the
fewest environments covering the fleet) · html.py / jsonout.py (scan.html, scan.json, journal)
· core.py (the whole scan).
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import FORMATS, ScanInterrupted, run_scan
    from .evaluate import ScanOptions, TargetSpec
    from .fleet import Cell, ModelRow, Outcome, Proposal, Risk, ScanResult
else:
    # Loaded on first use (PEP 562): the CLI's parser imports kresolve.scan.cli on every command,
    # and the scan machinery (smoke, runner, cover) must not slow `kresolve lock` down.
    _WHERE = {"FORMATS": "core", "ScanInterrupted": "core", "run_scan": "core", "ScanOptions": "evaluate",
              "TargetSpec": "evaluate", "Cell": "fleet", "ModelRow": "fleet", "Outcome": "fleet", "Proposal": "fleet",
              "Risk": "fleet", "ScanResult": "fleet"}

    def __getattr__(name: str) -> object:
        if name not in _WHERE:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value

__all__ = ["FORMATS", "Cell", "ModelRow", "Outcome", "Proposal", "Risk", "ScanInterrupted", "ScanOptions",
           "ScanResult", "TargetSpec", "run_scan"]
