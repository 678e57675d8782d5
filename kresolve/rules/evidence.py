"""What a preferred version rests on (`Evidence`) and how sure it is (`Confidence`).

Apart from infer.py because the rules DB's eras carry a confidence too, and infer imports the DB.
StrEnums: the values are what the report JSON and the CLI print.
"""

from __future__ import annotations

from enum import StrEnum


class Evidence(StrEnum):
    """Where a preference comes from, strongest first (declaration order is the strength order)."""

    SIDECAR = "sidecar"  # the kresolve.json written in the training environment: exact versions
    ARTIFACT = "artifact"  # the file's own metadata: keras_version, tensorflow_version, Lambda bytecode
    ERA = "era"  # an era rule keyed by those versions or by the save date
    PROJECT = "project"  # project files beside the model (requirements.txt, environment.yml, ...)
    # Preferences only, never an Estimate: a package with no evidence of its own follows the one it
    # ships with (rules/plan.py: tf-keras follows TensorFlow's minor); one preference merged from
    # several models' for a shared environment (solve/many.py).
    INHERITED = "inherited"
    MERGED = "merged"


class Confidence(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
