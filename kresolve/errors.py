"""Errors that end a run, each with the exit code DESIGN.md documents and a kind for --json."""

from __future__ import annotations

import enum


class ErrorKind(enum.Enum):
    """What went wrong, in one word: `--json` prints it as `{"error": {"kind": ...}}` (`KresolveError.error_kind`)."""

    BAD_INPUT = "bad-input"  # an unreadable/wrong-type model file, a bad flag value (exit 2)
    UNSAFE_MODEL = "unsafe-model"  # pickles in a .keras archive (exit 2)
    USAGE = "usage"  # argparse's errors: unknown flag, missing argument (exit 2)
    UNSOLVABLE = "unsolvable"  # no environment satisfies the constraints (exit 1)
    CUSTOM_CODE_MISSING = "custom-code-missing"  # custom classes without their code (exit 1)
    SMOKE_FAILED = "smoke-failed"  # the model did not load/predict in the locked env (exit 3)
    INDEX_UNAVAILABLE = "index-unavailable"  # the index answered 404/5xx or is unreachable (exit 4)
    INTERRUPTED = "interrupted"  # Ctrl-C (exit 130)
    INTERNAL = "internal"  # a bug in kresolve (exit 2; KRESOLVE_DEBUG=1 shows the traceback)


class KresolveError(Exception):
    """Base: `str(err)` is the one line shown to the user."""

    exit_code = 2
    error_kind = ErrorKind.BAD_INPUT


class BadInput(KresolveError):
    """Unreadable, wrong-type or malicious model file; bad usage."""

    exit_code = 2
    error_kind = ErrorKind.BAD_INPUT


class UnsafeModel(BadInput):
    """A model file that runs code merely by being loaded (pickled objects, duplicate zip member
    names): refused before it is read further, never loaded by a smoke test."""

    error_kind = ErrorKind.UNSAFE_MODEL

    def __init__(self, message: str, kind: str, member: str, imports: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.kind = kind  # an artifact.pickles.UnsafeKind value, e.g. "object-npy"
        self.member = member  # the archive member (or file in an unpacked .keras) refused
        self.imports = imports  # callables the pickle would import, as far as the scan saw


class Unsolvable(KresolveError):
    """No environment satisfies the constraints; the message explains the conflict."""

    exit_code = 1
    error_kind = ErrorKind.UNSOLVABLE


class CustomCodeMissing(Unsolvable):
    """The model needs custom classes whose code the user did not give: refused before solving."""

    exit_code = 1
    error_kind = ErrorKind.CUSTOM_CODE_MISSING


class SmokeFailed(KresolveError):
    exit_code = 3
    error_kind = ErrorKind.SMOKE_FAILED


class IndexUnavailable(KresolveError):
    """The package index could not be reached or answered wrongly (404 at its root, 5xx,
    connection refused, TLS failure): the message names the URL and what it answered."""

    exit_code = 4
    error_kind = ErrorKind.INDEX_UNAVAILABLE
