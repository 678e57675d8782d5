"""`kresolve capture`: record a model's training environment in a `kresolve.json` sidecar.

Run it where the model was trained (that environment's Python), right after saving the model.
The sidecar (schema v1, read back by `kresolve.artifact.sidecar`) records the exact Python,
platform and installed distributions, TensorFlow's CUDA/cuDNN build, the import paths of the
model's custom objects and a probe (deterministic inputs and the outputs the model gave), so
that `kresolve lock` later pins the training versions and the smoke test can prove the new
environment predicts the same. Where it goes: `kresolve.json` beside the model, or
`<model>.kresolve.json` when that already exists or a `kresolve.json` there belongs to another
model (`record.sidecar_path_for`).

Three ways in:
- `capture(model_path)`: a saved model. kresolve never imports TensorFlow itself: the model is
  loaded and probed by `record.py` run as a script by the training environment's interpreter
  (`python=`, default this one) in a subprocess with a time limit; the sidecar is checked with
  kresolve's own reader before it replaces anything, so a failed capture writes nothing.
- `capture_model(model, model_path)`: a model in memory (notebook, training script), in this
  process; `save_and_capture(model, path)` saves it first.
- `KresolveCapture(model_path)`: a Keras callback (tf.keras 2.x and Keras 3); see `callback.py`.

Importing this package imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings as _warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kresolve.capture import record
from kresolve.errors import BadInput, KresolveError

if TYPE_CHECKING:
    from kresolve.artifact.facts import ModelFacts

__all__ = [
    "RECORD_SCRIPT",
    "CaptureError",
    "CaptureWarning",
    "Captured",
    "KresolveCapture",
    "capture",
    "capture_model",
    "run_capture",
    "save_and_capture",
]

RECORD_SCRIPT = Path(record.__file__).resolve()
_TAIL_LINES = 3


class CaptureError(KresolveError):
    """The capture could not be done (no TensorFlow in that interpreter, a time-out, the probe
    or the write failed); `str(err)` is one line. Exit code 2 (usage/input)."""

    exit_code = 2


class CaptureWarning(UserWarning):
    """Something the sidecar could not record fully (no probe, custom objects in `__main__`...)."""


@dataclass(frozen=True)
class Captured:
    path: Path  # the sidecar written
    model: Path
    python: str  # the interpreter that loaded the model
    loaded_with: str  # "tf.keras", "tf_keras", "keras" (Keras 3) or "tf.saved_model"
    warnings: tuple[str, ...]
    seconds: float


def capture(
    model_path: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    trust: bool = False,
    timeout: float = 600,
    *,
    python: str | os.PathLike[str] | None = None,
    paths: tuple[str, ...] | list[str] = (),
    imports: tuple[str, ...] | list[str] = (),
    custom_objects: dict[str, str] | None = None,
) -> Path:
    """Write the sidecar for the saved model at `model_path`; return its path.

    Loads the model in a subprocess run by `python` (default: this interpreter, i.e. the
    training environment kresolve is installed in) within `timeout` seconds. `trust` allows
    loading code stored in the model (Lambda layers; Keras 3 `safe_mode=False`), which is
    refused otherwise. `paths` are prepended to the subprocess's import path (the working
    directory is on it too, as in `python -m`), `imports` are modules imported before loading
    (ones that register custom layers), `custom_objects` maps names to `module.Attr` import
    paths (the ones the file records are tried by themselves).

    Raises BadInput when the path is not a model or the model cannot be loaded, CaptureError
    for everything else; nothing is written then. Warnings (`CaptureWarning`) say what could
    not be recorded.
    """
    result = run_capture(model_path, out, trust, timeout, python=python, paths=paths,
                         imports=imports, custom_objects=custom_objects)
    for message in result.warnings:
        _warnings.warn(message, CaptureWarning, stacklevel=2)
    return result.path


def run_capture(
    model_path: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    trust: bool = False,
    timeout: float = 600,
    *,
    python: str | os.PathLike[str] | None = None,
    paths: tuple[str, ...] | list[str] = (),
    imports: tuple[str, ...] | list[str] = (),
    custom_objects: dict[str, str] | None = None,
) -> Captured:
    """`capture()` with the details (for the CLI): warnings are returned, not emitted."""
    start = time.monotonic()
    model = Path(os.path.abspath(os.fspath(model_path)))
    where, facts = _read_model(model)  # BadInput for anything that is not a model; no TF
    if facts.lambda_layers and not trust:
        names = ", ".join(layer.layer_name for layer in facts.lambda_layers[:3])
        raise BadInput(f"{model}: the model has Lambda layers ({names}) whose code is stored in the file; "
                       f"capturing loads the model, which runs that code: pass trust=True (--trust-model) "
                       f"if you trust this file")
    target = Path(os.path.abspath(out)) if out else Path(record.sidecar_path_for(where))
    if target.is_dir():
        raise CaptureError(f"{target}: is a directory; name the sidecar file to write")
    interpreter = str(python or sys.executable)

    hints = _custom_object_hints(where, facts)
    hints.update(custom_objects or {})
    try:  # a staging file beside the target: proves we can write there, before TF spends time
        fd, staging_name = tempfile.mkstemp(prefix=".kresolve-capture-", suffix=".json", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise CaptureError(f"cannot write the sidecar in {target.parent} ({exc.strerror or exc})") from None
    staging = Path(staging_name)
    try:
        with tempfile.TemporaryDirectory(prefix="kresolve-capture-") as tmp:
            result_file = Path(tmp) / "result.json"
            command = [interpreter, str(RECORD_SCRIPT), str(where), "--out", str(staging),
                       "--result", str(result_file)]
            command += ["--trust"] if trust else []
            for folder in paths:
                command += ["--path", os.path.abspath(folder)]
            for module in imports:
                command += ["--import", module]
            for name, spec in hints.items():
                command += ["--custom-object", f"{name}={spec}"]
            returncode, stderr = _run(command, timeout, model)
            outcome = _outcome(result_file, returncode, stderr, interpreter, model)
        _check(staging)
        os.replace(staging, target)
    finally:
        staging.unlink(missing_ok=True)

    notes = list(outcome.get("warnings", []))
    recorded = json.loads(target.read_text("utf-8")).get("custom_objects") or {}
    for obj in facts.custom_objects:
        if obj.class_name not in recorded and outcome.get("loaded_with") != "tf.saved_model":
            notes.append(f"the file names custom object {obj.registered_name or obj.class_name}, but the "
                         f"loaded model does not use a class of that name (revived without its code?)")
    return Captured(
        path=target,
        model=where,
        python=interpreter,
        loaded_with=str(outcome.get("loaded_with", "")),
        warnings=tuple(notes),
        seconds=round(time.monotonic() - start, 2),
    )


def capture_model(model: Any, model_path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write the sidecar for an in-memory Keras model that is (or will be) saved at `model_path`,
    in this process (which must be the training environment); return the sidecar's path.

    The probe runs on the CPU so its numbers do not depend on a GPU's TF32 arithmetic. The
    sidecar is checked with kresolve's reader before it replaces anything.
    """
    notes: list[str] = []
    try:
        path = record.write_sidecar(model, model_path, os.fspath(out) if out else None,
                                    validate=_check, warnings=notes)
    except record.CaptureFailed as exc:
        raise CaptureError(f"{model_path}: {exc}") from None
    for message in notes:
        _warnings.warn(message, CaptureWarning, stacklevel=2)
    return Path(path)


def save_and_capture(model: Any, model_path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
                     **save_kwargs: Any) -> Path:
    """`model.save(model_path, **save_kwargs)`, then `capture_model(model, model_path, out)`."""
    model.save(os.fspath(model_path), **save_kwargs)
    return capture_model(model, model_path, out)


def __getattr__(name: str) -> Any:
    if name == "KresolveCapture":  # the callback module imports Keras only when one is made
        from kresolve.capture.callback import KresolveCapture

        return KresolveCapture
    raise AttributeError(f"module 'kresolve.capture' has no attribute {name!r}")


# ----------------------------------------------------------------------------- helpers


def _read_model(model: Path) -> tuple[Path, ModelFacts]:
    """(the path to load, ModelFacts) from the file's bytes alone; an existing sidecar is not
    read (capture replaces it, so a broken one must not stop it)."""
    from kresolve.artifact.h5 import read_h5
    from kresolve.artifact.kerazip import read_keras_dir, read_keras_zip
    from kresolve.artifact.savedmodel import read_savedmodel
    from kresolve.artifact.sniff import Kind, sniff

    kind, where = sniff(model)
    reader = {Kind.HDF5: read_h5, Kind.ZIP: read_keras_zip, Kind.SAVEDMODEL: read_savedmodel}.get(kind, read_keras_dir)
    return where, reader(where)


def _custom_object_hints(model: Path, facts: ModelFacts) -> dict[str, str]:
    """Import paths worth handing to the loader: the modules the file records for its custom
    classes, and what an earlier sidecar recorded (Keras saves plain functions such as custom
    activations or losses without their module; the sidecar knows it)."""
    from kresolve.artifact.sidecar import find_sidecar, read_sidecar

    hints = {obj.class_name: f"{obj.module}.{obj.class_name}" for obj in facts.custom_objects if obj.module}
    try:
        earlier = find_sidecar(model)
        if earlier is not None:
            for name, path in read_sidecar(earlier).custom_objects:
                hints.setdefault(name, path)
    except BadInput:
        pass  # a broken sidecar is about to be replaced; it only offered hints
    return hints


def _run(command: list[str], timeout: float, model: Path) -> tuple[int, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    except OSError as exc:
        raise CaptureError(f"cannot run {command[0]} ({exc.strerror or exc})") from None
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise CaptureError(f"{model}: capture did not finish within {timeout:g}s (loading and probing "
                           f"the model in {command[0]})") from None
    except BaseException:
        _kill(proc)
        raise
    return proc.returncode, stderr.decode("utf-8", "replace")


def _kill(proc: subprocess.Popen[Any]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: TF's threads and any children
    except (ProcessLookupError, PermissionError, AttributeError):
        proc.kill()
    proc.communicate()


def _outcome(result_file: Path, returncode: int, stderr: str, interpreter: str, model: Path) -> dict[str, Any]:
    try:
        outcome: dict[str, Any] = json.loads(result_file.read_text("utf-8"))
    except (OSError, ValueError):
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        tail = " | ".join(lines[-_TAIL_LINES:]) or "no output"
        raise CaptureError(f"{model}: the capture process ({interpreter}) died with exit code {returncode}: "
                           f"{tail}") from None
    if outcome.get("ok"):
        return outcome
    stage, error = outcome.get("stage"), outcome.get("error", "unknown error")
    if stage == "load":
        raise BadInput(f"{model}: cannot be loaded in {interpreter}: {error}")
    if stage == "import":
        raise CaptureError(f"{model}: {error}")
    raise CaptureError(f"{model}: capture failed while {'writing' if stage == 'write' else 'recording'}: {error}")


def _check(path: str | os.PathLike[str]) -> None:
    """The sidecar must read back with kresolve's own reader (schema v1, strict)."""
    from kresolve.artifact.sidecar import read_sidecar

    try:
        read_sidecar(Path(path))
    except BadInput as exc:
        raise CaptureError(f"the recorded sidecar does not pass kresolve's reader (a kresolve bug): {exc}") from None
