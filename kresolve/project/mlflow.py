"""MLflow's python_env.yaml: the Python version and pip requirements MLflow logged with a model.

(MLflow's conda.yaml is a conda environment file and is read by environment_yml.)
"""

from __future__ import annotations

from pathlib import Path

from kresolve.project.evidence import Collector, ProjectEvidence, ProjectKind
from kresolve.project.pythonversion import python_version_text
from kresolve.project.reading import path_key, yaml_document
from kresolve.project.requirements import requirement_lines


def parse_mlflow_python_env(path: Path, top: Path) -> ProjectEvidence:
    col = Collector(path, ProjectKind.MLFLOW_PYTHON_ENV)
    document = yaml_document(col, path, top)
    if document is None:
        return col.evidence()
    python = document.get("python")
    if isinstance(python, str):
        col.set_python(python_version_text(python) or python, path.name)
    deps = document.get("dependencies")
    if isinstance(deps, list) and all(isinstance(line, str) for line in deps):
        requirement_lines(col, deps, path, top, [path_key(path)], None)
    elif deps is not None:
        col.note(f"{path.name}: 'dependencies' is not a list of strings")
    return col.evidence()
