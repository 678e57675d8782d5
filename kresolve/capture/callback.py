"""`KresolveCapture`: a Keras callback that writes the kresolve sidecar from inside `fit()`.

    from kresolve.capture import KresolveCapture

    # 1. Record when training ends; save the model yourself (before or after fit returns):
    model.fit(x, y, callbacks=[KresolveCapture("model.keras")])
    model.save("model.keras")

    # 2. Follow a ModelCheckpoint: put KresolveCapture AFTER it with the same file path;
    #    every time the checkpoint file is (re)written, its sidecar is rewritten to match.
    model.fit(x, y, callbacks=[
        keras.callbacks.ModelCheckpoint("ckpt/model-{epoch:02d}.keras", save_best_only=True),
        KresolveCapture("ckpt/model-{epoch:02d}.keras", on="save"),
    ])

What it records is what `capture_model(model, path)` records (see `kresolve.capture`): the
environment, TensorFlow's build, the model's custom objects and a probe computed on the CPU
from the in-memory model. It never saves the model itself (`save_and_capture` does both).

Behaviour a long training run can rely on:
- It never fails your `fit()`: a capture error becomes a warning (`CaptureWarning`) and training
  and the code after `fit()` (your `model.save`) go on; pass `strict=True` to raise instead.
- `on="train_end"` (default) records once, in `on_train_end`. `on="save"` checks after every
  epoch and at the end whether the file at `model_path` (formatted with `epoch` and the epoch's
  logs as ModelCheckpoint formats it) was written since the last check, and records it if so.
- In multi-worker training only the chief (TF_CONFIG) writes.
- `callback.written` lists the sidecars written, `callback.warnings` what could not be recorded.

`KresolveCapture(...)` is a factory: it builds the callback on the Callback class of the Keras
this environment trains with - `tf_keras` when TF_USE_LEGACY_KERAS is set, otherwise `keras`
(Keras 2.x under TF <= 2.15, where `tf.keras` is the same package; Keras 3 after). Pass
`keras=tf_keras` (or `keras=tf.keras`) when your code uses another one. Keras is imported only
when a callback is made, so importing kresolve.capture never imports TensorFlow.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings as _warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import Protocol

    class _State(Protocol):
        """What the methods below see as `self`: a Keras Callback with these attributes."""

        model: Any  # set by Keras (Callback.set_model)
        model_path: str
        out: str | None
        on: str
        strict: bool
        verbose: bool
        written: list[str]
        warnings: list[str]
        _stamps: dict[str, tuple[int, int]]
        _since_ns: int
        _last_epoch: int
        _last_logs: dict[str, Any]

        def _path(self, epoch: int | None = None, logs: dict[str, Any] | None = None) -> str: ...
        def _capture(self, path: str) -> None: ...
        def _saved_since_last_look(self, path: str) -> bool: ...

_ON = ("train_end", "save")
_classes: dict[int, type] = {}


def _callback_base(keras: Any = None) -> Any:  # a keras Callback class
    if keras is not None:
        return keras.callbacks.Callback
    if os.environ.get("TF_USE_LEGACY_KERAS", "").strip().lower() in ("1", "true", "yes", "on"):
        try:
            import tf_keras

            return tf_keras.callbacks.Callback
        except ImportError:
            pass
    try:
        import keras as keras_module
    except ImportError:  # very old TF environments ship Keras only as tf.keras
        import tensorflow as tf

        keras_module = tf.keras
    return keras_module.callbacks.Callback


def _is_chief() -> bool:
    """True unless TF_CONFIG says this process is a non-chief worker, a ps or an evaluator."""
    try:
        config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    except ValueError:
        return True
    task = (config.get("task") or {}) if isinstance(config, dict) else {}
    kind = task.get("type")
    if not kind or kind in ("chief", "master"):
        return True
    if kind == "worker":
        return int(task.get("index", 0)) == 0 and "chief" not in (config.get("cluster") or {})
    return False


def _methods(base: Any) -> dict[str, Any]:
    def __init__(self: _State, model_path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
                 on: str = "train_end", strict: bool = False, verbose: bool = True) -> None:
        base.__init__(self)
        if on not in _ON:
            raise ValueError(f"on must be one of {_ON}, not {on!r}")
        self.model_path = os.fspath(model_path)
        self.out = os.fspath(out) if out else None
        self.on = on
        self.strict = strict
        self.verbose = verbose
        self.written = []
        self.warnings = []
        self._stamps = {}
        self._since_ns = 0

    def _path(self: _State, epoch: int | None = None, logs: dict[str, Any] | None = None) -> str:
        if epoch is None:
            return self.model_path
        try:  # ModelCheckpoint's own formatting: epoch numbers start at 1
            return self.model_path.format(epoch=epoch + 1, **(logs or {}))
        except (KeyError, IndexError, ValueError):
            return self.model_path

    def _capture(self: _State, path: str) -> None:
        from kresolve.capture import CaptureWarning, capture_model

        if not _is_chief():
            return
        try:
            with _warnings.catch_warnings(record=True) as caught:
                _warnings.simplefilter("always", CaptureWarning)
                written = capture_model(self.model, path, self.out)
        except Exception as exc:
            if self.strict:
                raise
            message = f"kresolve capture for {path} failed: {exc}"
            self.warnings.append(message)
            _warnings.warn(message, CaptureWarning, stacklevel=2)
            return
        for item in caught:
            self.warnings.append(str(item.message))
            _warnings.warn(item.message, item.category, stacklevel=2)
        self.written.append(str(written))
        if self.verbose:
            print(f"kresolve: recorded {path} -> {written}", file=sys.stderr)

    def _saved_since_last_look(self: _State, path: str) -> bool:
        """Was `path` written during this training run and since we last recorded it?"""
        try:
            info = os.stat(path)
        except OSError:
            return False
        stamp = (info.st_mtime_ns, info.st_size)
        if info.st_mtime_ns < self._since_ns or self._stamps.get(path) == stamp:
            return False  # left over from an earlier run, or unchanged since our last record
        self._stamps[path] = stamp
        return True

    def on_train_begin(self: _State, logs: dict[str, Any] | None = None) -> None:
        # Files older than this run are not its saves (2 s of slack for coarse file clocks).
        self._since_ns = time.time_ns() - 2_000_000_000

    def on_epoch_end(self: _State, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.on == "save":
            self._last_epoch, self._last_logs = epoch, dict(logs or {})
            path = self._path(epoch, logs)
            if self._saved_since_last_look(path):
                self._capture(path)

    def on_train_end(self: _State, logs: dict[str, Any] | None = None) -> None:
        if self.on == "train_end":
            self._capture(self.model_path)
            return
        epoch = getattr(self, "_last_epoch", None)
        path = self._path(epoch, getattr(self, "_last_logs", None))
        if self._saved_since_last_look(path):  # a save after the last epoch's check
            self._capture(path)

    return {
        "__init__": __init__,
        "_path": _path,
        "_capture": _capture,
        "_saved_since_last_look": _saved_since_last_look,
        "on_train_begin": on_train_begin,
        "on_epoch_end": on_epoch_end,
        "on_train_end": on_train_end,
        "__doc__": "Writes the kresolve sidecar for a model path from inside fit() "
                   "(see kresolve.capture.callback).",
        "__module__": __name__,
    }


def callback_class(keras: Any = None) -> type:
    """The KresolveCapture class for `keras` (default: the Keras this environment trains with)."""
    base = _callback_base(keras)
    if id(base) not in _classes:
        _classes[id(base)] = type("KresolveCapture", (base,), _methods(base))
    return _classes[id(base)]


def KresolveCapture(model_path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None,
                    on: str = "train_end", strict: bool = False, verbose: bool = True, keras: Any = None) -> Any:
    """A Keras callback that writes the kresolve sidecar for `model_path` (see the module doc).

    `out`: sidecar path (default: beside the model). `on`: "train_end" or "save". `strict`:
    raise instead of warning when the capture fails. `keras`: the Keras module whose Callback
    to derive from, when not the environment's default.
    """
    return callback_class(keras)(model_path, out=out, on=on, strict=strict, verbose=verbose)
