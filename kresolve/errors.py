"""Errors that end a run, each with the exit code DESIGN.md documents."""

from __future__ import annotations


class KresolveError(Exception):
    """Base: `str(err)` is the one line shown to the user."""

    exit_code = 2


class BadInput(KresolveError):
    """Unreadable, wrong-type or malicious model file; bad usage."""

    exit_code = 2


class UnsafeModel(BadInput):
    """A model file that runs code merely by being loaded (pickled objects, duplicate zip member
    names): refused before it is read further, never loaded by a smoke test."""

    def __init__(self, message: str, kind: str, member: str, imports: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.kind = kind  # an artifact.pickles.UnsafeKind value, e.g. "object-npy"
        self.member = member  # the archive member (or file in an unpacked .keras) refused
        self.imports = imports  # callables the pickle would import, as far as the scan saw


class Unsolvable(KresolveError):
    """No environment satisfies the constraints; the message explains the conflict."""

    exit_code = 1


class CustomCodeMissing(Unsolvable):
    """The model needs custom classes whose code the user did not give: refused before solving."""

    exit_code = 1


class SmokeFailed(KresolveError):
    exit_code = 3


class IndexUnavailable(KresolveError):
    """The package index could not be reached or answered wrongly."""

    exit_code = 4
