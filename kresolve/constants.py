"""Names and lists several stages share, defined once.

Each of these was written out in three to five modules (the solver's objective, the scan's
distance, the CLI's tables, the file names `lock` writes); a change to one copy and not the
others would make the stages disagree silently. Platform names and the Python minors kresolve
solves for are defined by `kresolve.target` (it maps them to tags and markers) and re-exported
here; this module imports only that one, so any module may import it.
"""

from __future__ import annotations

from kresolve.target import PLATFORMS, PYTHON_MINORS

# The Keras lines: standalone / Keras 3 and the Keras 2 package for TF >= 2.16.
KERAS_PACKAGES = ("keras", "tf-keras")
# What decides whether a model loads at all: the Keras line and TensorFlow. The solver searches
# these nearest first, one after the other (DESIGN.md "Nearest").
LOADER_PACKAGES = (*KERAS_PACKAGES, "tensorflow")
# The objective: lexicographic in this order, then any other package with a preference by name.
# The target's Python is fixed per solve, so it is not part of the search order.
OBJECTIVE_ORDER = (*LOADER_PACKAGES, "numpy")
# Packages whose distance from the training env is summed when models or environments are
# compared (scan cells, shared-environment proposals).
KEY_PACKAGES = (*LOADER_PACKAGES, "python", "numpy")
# Packages the CLI's tables always show, besides the ones a rule or the model asked for.
SHOWN_PACKAGES = (*KEY_PACKAGES, "h5py", "protobuf")

# conda-style platform names, in the order `--platform` lists them.
PLATFORM_NAMES: tuple[str, ...] = tuple(PLATFORMS)
# The platform a failed solve is retried on by `explain`: the one every TF release has wheels for.
FALLBACK_PLATFORM = "linux-64"
# The Pythons `explain` tries when the target's cannot be solved: 3.9 (the oldest with wheels of
# TF 2.5 to 2.15) to 3.13 (the newest with TensorFlow wheels).
EXPLAIN_PYTHONS: tuple[str, ...] = tuple(m for m in PYTHON_MINORS if 9 <= int(m.split(".")[1]) <= 13)

# Files `lock` writes into its output directory.
REPORT_FILE = "kresolve-report.json"
REQUIREMENTS_FILE = "requirements.txt"

SCAN_FORMATS = ("pip",)  # lock formats `scan --format` writes per proposed environment

__all__ = [
    "EXPLAIN_PYTHONS",
    "FALLBACK_PLATFORM",
    "KERAS_PACKAGES",
    "KEY_PACKAGES",
    "LOADER_PACKAGES",
    "OBJECTIVE_ORDER",
    "PLATFORMS",
    "PLATFORM_NAMES",
    "PYTHON_MINORS",
    "REPORT_FILE",
    "REQUIREMENTS_FILE",
    "SCAN_FORMATS",
    "SHOWN_PACKAGES",
]
