"""Fleet scans: every model under some paths against a policy and targets (`kresolve scan`).

fleet.py (the rows and cells, JSON round trip) · evaluate.py (one model: inspect, solve per
target) · runner.py (smoke tests in parallel locally, or everything on Dask) · cover.py (the
fewest environments covering the fleet) · html.py / jsonout.py (scan.html, scan.json, journal)
· core.py (the whole scan).
"""

from .core import FORMATS, ScanInterrupted, run_scan
from .evaluate import ScanOptions, TargetSpec
from .fleet import Cell, ModelRow, Outcome, Proposal, Risk, ScanResult

__all__ = ["FORMATS", "Cell", "ModelRow", "Outcome", "Proposal", "Risk", "ScanInterrupted", "ScanOptions",
           "ScanResult", "TargetSpec", "run_scan"]
