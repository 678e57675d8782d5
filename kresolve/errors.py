"""Errors that end a run, each with the exit code DESIGN.md documents."""

from __future__ import annotations


class KresolveError(Exception):
    """Base: `str(err)` is the one line shown to the user."""

    exit_code = 2


class BadInput(KresolveError):
    """Unreadable, wrong-type or malicious model file; bad usage."""

    exit_code = 2


class Unsolvable(KresolveError):
    """No environment satisfies the constraints; the message explains the conflict."""

    exit_code = 1


class SmokeFailed(KresolveError):
    exit_code = 3


class IndexUnavailable(KresolveError):
    """The package index could not be reached or answered wrongly."""

    exit_code = 4
