"""kresolve: the nearest installable environment in which a saved Keras/TensorFlow model loads again."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["LockResult", "__version__", "inspect", "lock"]


def __getattr__(name: str) -> Any:
    # Lazy: `import kresolve` stays cheap for the CLI and for stage modules imported alone.
    if name in ("LockResult", "inspect", "lock"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'kresolve' has no attribute {name!r}")
