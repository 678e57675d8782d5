"""Read an HDF5 file's Keras metadata with h5py, in a worker process of its own.

Why a separate process: the HDF5 C library trusts lengths stored in the file, and a single
flipped bit in a variable-length string reference is enough to make it crash (SIGSEGV) while
reading an attribute. Inside kresolve that would kill the whole run; in a worker it becomes a
clean refusal, and the worker is simply started again for the next file.

This file is run as a script (`python -I h5meta.py`) and imports nothing from kresolve: the
parent sends its `sys.path` first so the worker finds the same h5py. Protocol: one JSON object
per line each way. Request `{"path": ..., "what": "model" | "keys", "limit": bytes}`; reply
`{"ok": {...}}` or `{"error": "..."}`.

Memory: libhdf5 reads a whole attribute before h5py hands it over, and a variable-length string
costs several times its size on the way to Python (an 80 MiB one peaks near 500 MiB), so where the
platform allows it the worker caps its own address space at what it holds after start-up plus
MEMORY_HEADROOM: a hostile multi-GB attribute then fails to allocate and is refused instead of
swelling the machine.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

# Attributes Keras writes at the root of a full-model or save_weights file.
TEXT_ATTRS = ("keras_version", "backend", "model_config", "training_config")
H5_ERRORS = (OSError, KeyError, ValueError, RuntimeError, TypeError, IndexError)
# Address space the worker may add to what it uses once h5py is imported (the limits let a
# reader need at most ~6 x 64 MiB for one attribute).
MEMORY_HEADROOM = 1024 * 1024 * 1024


class MetaError(Exception):
    """A message for the user: the file is not readable as Keras HDF5."""


def _text(value: Any, name: str, limit: int) -> str:
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # 0-d numpy array
        value = value.item()
    if isinstance(value, bytes | bytearray):  # numpy.bytes_ included
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise MetaError(f"attribute {name!r} is not UTF-8 text") from None
    if not isinstance(value, str):
        raise MetaError(f"attribute {name!r} is a {type(value).__name__}, expected text")
    if len(value) > limit:
        raise MetaError(f"attribute {name!r} is over the {limit // (1024 * 1024)} MiB limit")
    return str(value)


def _attr(node: Any, name: str, limit: int) -> Any:  # an h5py Group/Dataset; the attribute as h5py reads it
    if name not in node.attrs:
        return None
    # Fixed-size values can be refused before they are read; variable-length ones after.
    if node.attrs.get_id(name).get_storage_size() > limit:
        raise MetaError(f"attribute {name!r} is over the {limit // (1024 * 1024)} MiB limit")
    return node.attrs[name]


def _layer_names(node: Any, limit: int) -> list[str] | None:
    """`layer_names`, which Keras splits into layer_names0, layer_names1... when it is large."""
    if "layer_names" in node.attrs:
        keys = ["layer_names"]
    else:
        keys = []
        while f"layer_names{len(keys)}" in node.attrs:
            keys.append(f"layer_names{len(keys)}")
    if not keys:
        return None
    names: list[str] = []
    for key in keys:
        chunk = _attr(node, key, limit)
        for item in getattr(chunk, "flat", [chunk]):
            names.append(_text(item, "layer_names", limit))
    return names


def read_metadata(path: str, what: str, limit: int) -> dict[str, Any]:
    import h5py  # here, so the parent process never needs the HDF5 library loaded

    try:
        handle = h5py.File(path, "r")
    except H5_ERRORS as exc:
        raise MetaError(f"HDF5 signature found but the file cannot be opened ({_reason(exc)}); "
                        "it may be truncated or damaged") from None
    try:
        with handle:
            keys = list(handle.keys())
            if what == "keys":
                return {"root_keys": keys}
            attrs = {}
            for name in TEXT_ATTRS:
                value = _attr(handle, name, limit)
                attrs[name] = None if value is None else _text(value, name, limit)
            weights_attrs = {}
            group = handle.get("model_weights") if "model_weights" in keys else None
            if isinstance(group, h5py.Group):  # full models also stamp the weights group
                for name in ("keras_version", "backend"):
                    value = _attr(group, name, limit)
                    weights_attrs[name] = None if value is None else _text(value, name, limit)
            return {
                "attrs": attrs,
                "weights_attrs": weights_attrs,
                "layer_names": _layer_names(handle, limit),
                "root_keys": keys,
            }
    except H5_ERRORS as exc:
        if _out_of_memory(exc):
            raise MemoryError from None
        raise MetaError(f"damaged HDF5 file ({_reason(exc)})") from None


def _out_of_memory(exc: BaseException) -> bool:
    """libhdf5 reports a failed allocation (e.g. under the worker's memory cap) as an error."""
    text = str(exc)
    return "allocation failed" in text or "H5MM_" in text


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def answer(request: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"ok": read_metadata(request["path"], request["what"], request["limit"])}
    except MetaError as exc:
        return {"error": str(exc)}
    except RecursionError:
        return {"error": "HDF5 structure nested too deeply"}
    except ImportError as exc:
        return {"error": f"cannot read HDF5 files: h5py is not importable ({exc})"}
    except MemoryError:
        return {"error": "reading its metadata needs more memory than the HDF5 reader allows "
                         f"(start-up size + {MEMORY_HEADROOM // (1024 * 1024)} MiB): damaged or "
                         "crafted file"}


def cap_memory() -> None:
    """Limit this process's address space to its current size plus MEMORY_HEADROOM (Linux)."""
    try:
        import resource

        with open("/proc/self/statm", "rb") as handle:
            size = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = size + MEMORY_HEADROOM
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        if soft == resource.RLIM_INFINITY or soft > cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, OSError, ValueError, IndexError):
        pass  # no /proc or no rlimits here: run uncapped


def main() -> None:
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    handshake = stdin.readline()
    if not handshake:
        return
    sys.path[:] = json.loads(handshake)["sys_path"]
    try:
        import h5py  # noqa: F401  (before the cap, so the cap sits above its libraries)
    except ImportError:
        pass  # every request will say so
    cap_memory()
    for line in stdin:
        reply = answer(json.loads(line))
        stdout.write(json.dumps(reply).encode("ascii") + b"\n")
        stdout.flush()
    # End of input: the parent is done. Skip the interpreter's teardown of NumPy and h5py (the
    # parent waits for it on a polite stop); every file was closed by its `with`.
    os._exit(0)


if __name__ == "__main__":
    main()
