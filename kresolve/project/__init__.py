"""Project-file evidence: what the files beside a model (requirements.txt, environment.yml,
pyproject.toml, Pipfile, lock files, an installed conda env, MLflow's env files) say about the
environment it was trained in.

A separate stage from the model readers in `kresolve.artifact`: those read the model's own
bytes, this package reads the project around it. One module per format; `search` finds the
files and ranks their evidence; everything is parsed, never executed, and a file that cannot be
read gives evidence carrying a note instead of an error. Nothing here imports
`kresolve.artifact` (which imports this package).
"""

from __future__ import annotations

from kresolve.project.evidence import ProjectEvidence, ProjectKind
from kresolve.project.search import Cache, project_evidence, search_dirs

__all__ = [
    "Cache",
    "ProjectEvidence",
    "ProjectKind",
    "project_evidence",
    "search_dirs",
]
