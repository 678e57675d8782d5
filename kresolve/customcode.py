"""Custom classes a model needs at load time, and whether the user gave kresolve their code.

`lock` asks this before anything is solved or built: a model that references classes Keras does
not define (`facts.custom_objects`, minus those only its compile config names: the smoke test
loads with `compile=False`) cannot load without their code, so a 600 MB environment built
without it would only end in a smoke failure. "Code given" is deliberately simple: any
`--custom-objects` module, `--code-path` directory or `--requirement` counts, because which
classes a user's module registers is only known by importing it, which kresolve never does.
`covered` lets rules that map known third-party modules to packages (added to the environment
automatically) take their classes off the list.
"""

from __future__ import annotations

from collections.abc import Callable

from .artifact.facts import CustomObject, ModelFacts

_HOW = ("give their code with --custom-objects MODULE --code-path DIR (your modules that define "
        "or register them) or --requirement PACKAGE (a published package that provides them)")


def missing_custom_code(
    facts: ModelFacts,
    custom_objects: tuple[str, ...] = (),
    requirements: tuple[str, ...] = (),
    code_paths: tuple[str, ...] = (),
    covered: Callable[[CustomObject], bool] | None = None,
) -> tuple[CustomObject, ...]:
    """The custom classes needed to load `facts`' model whose code nothing provides."""
    if custom_objects or requirements or code_paths:
        return ()
    return tuple(obj for obj in facts.custom_objects
                 if not obj.compile_only and not (covered and covered(obj)))


def describe(facts: ModelFacts, missing: tuple[CustomObject, ...]) -> str:
    """`Name (registered as ..., module ...; the sidecar records ...)`, comma-separated."""
    recorded = dict(facts.sidecar.custom_objects) if facts.sidecar else {}
    parts = []
    for obj in missing:
        where = []
        if obj.registered_name and obj.registered_name != obj.class_name:
            where.append(f"registered as {obj.registered_name}")
        if obj.module:
            where.append(f"module {obj.module}")
        if obj.class_name in recorded:
            where.append(f"the sidecar records import path {recorded[obj.class_name]}")
        parts.append(obj.class_name + (f" ({', '.join(where)})" if where else ""))
    return ", ".join(parts)


def refusal(facts: ModelFacts, missing: tuple[CustomObject, ...]) -> str:
    """The one line `lock` exits with (code 1) before solving."""
    return (f"{facts.path}: the model uses {len(missing)} custom class(es) whose code was not "
            f"given: {describe(facts, missing)}; {_HOW}; nothing was solved or built")


def warning(facts: ModelFacts, missing: tuple[CustomObject, ...]) -> str:
    """What `lock --no-smoke` says instead of refusing: the lock is written, nothing is proven."""
    return (f"the model uses {len(missing)} custom class(es) whose code was not given: "
            f"{describe(facts, missing)}; the lock was written without it and nothing proves the "
            f"model loads there ({_HOW}, then run the smoke test)")
