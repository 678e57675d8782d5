"""`conda kresolve …`: kresolve as a conda subcommand plugin (`conda lock` is conda-lock's).

conda finds this module through the `conda` entry point group (`[project.entry-points.conda]` in
pyproject.toml). It hands us a parser for `conda kresolve`, which `cli.fill_parser` fills with the
very same commands and arguments as the `kresolve` command; the parsed namespace then runs through
`cli.run`. Inside conda, two defaults come from conda's own context:
- `--channel`: conda's configured channels (`context.channels`, i.e. .condarc, `-c` of conda
  itself), when neither `-c` nor a `--template` names channels;
- the target Python (`lock`/`explain --python X.Y`, `capture --python INTERPRETER`): the active
  environment's Python, when run inside one.

Only conda imports this module; `kresolve` itself never imports conda.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import conda.plugins  # type: ignore[import-not-found]  # only ever imported by conda itself

SUMMARY = "kresolve: the nearest environment in which a saved Keras/TensorFlow model loads again"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    from .cli import DESCRIPTION, fill_parser

    parser.description = DESCRIPTION
    fill_parser(parser)


def active_python(prefix: str | None) -> tuple[str, Path] | None:
    """(X.Y, interpreter) of the conda environment at `prefix`, from its conda-meta records."""
    if not prefix:
        return None
    root = Path(prefix)
    for record in sorted((root / "conda-meta").glob("python-[0-9]*.json")):
        try:
            version = json.loads(record.read_text("utf-8")).get("version", "")
        except (OSError, ValueError, AttributeError):
            continue
        parts = str(version).split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            interpreter = root / "python.exe" if (root / "python.exe").exists() else root / "bin" / "python"
            return f"{parts[0]}.{parts[1]}", interpreter
    return None


def apply_conda_context(args: argparse.Namespace, channels: tuple[str, ...], prefix: str | None) -> argparse.Namespace:
    """conda's channels and the active environment's Python as defaults (see the module doc)."""
    if hasattr(args, "channels") and not args.channels and not getattr(args, "template", None):
        configured = [c for c in channels if c != "defaults"] or []
        if configured:
            args.channels = configured
    found = active_python(prefix)
    if found is not None and getattr(args, "python", None) is None:
        if args.command in ("lock", "explain", "scan"):
            args.python = found[0]
        elif args.command == "capture":
            args.python = str(found[1])
    return args


def action(args: argparse.Namespace) -> int:
    from conda.base.context import context  # type: ignore[import-not-found]

    from .cli import run

    return run(apply_conda_context(args, tuple(context.channels), context.active_prefix))


@conda.plugins.hookimpl  # type: ignore[untyped-decorator]  # conda is untyped (and absent outside conda)
def conda_subcommands() -> Iterator[conda.plugins.types.CondaSubcommand]:
    yield conda.plugins.types.CondaSubcommand(
        name="kresolve", summary=SUMMARY, action=action, configure_parser=configure_parser,
    )
