"""Command line: parse arguments, call the API, render. No logic of its own."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from rich.console import Console
from rich.markup import escape as esc
from rich.table import Table
from rich.text import Text

from . import __version__, api
from .artifact.facts import ModelFacts
from .constants import SHOWN_PACKAGES
from .errors import BadInput, ErrorKind, KresolveError, SmokeFailed
from .progress import PlainProgress, Progress, RichProgress, Stage
from .report import environment_json, facts_json, refusal_json, smoke_json, training_json
from .rules.advisories import describe as describe_advisory
from .rules.db import LOADERS
from .rules.infer import TrainingEnv
from .scan.cli import add_parser as _scan_parser  # kresolve scan and lock A B C: arguments and rendering
from .scan.cli import run as _scan_command  # light: scan.cli imports the scan machinery when a scan runs
from .session import Session
from .smoke.status import SmokeStatus
from .solve.distance import DistanceKind
from .target import DEFAULT_GLIBC, DEFAULT_MACOS, PYTHON_MINORS, UV_MACOS, platform_words

if TYPE_CHECKING:  # types only: the index and smoke modules load where a command uses them
    from .index import IndexConfig
    from .smoke.run import SmokeResult

out = Console(highlight=False)


_SMOKE_COLOUR = {SmokeStatus.PASSED: "green", SmokeStatus.FAILED: "red", SmokeStatus.SKIPPED: "yellow"}


def _row(table: Table, *cells: object) -> None:
    """Cells are data, never markup: rule text such as `tensorflow[and-cuda]` must print as is."""
    table.add_row(*(Text(str(c)) for c in cells))


def _error(message: str) -> None:
    """One line on stderr, never wrapped: scripts and humans both read the first line."""
    sys.stderr.write(" ".join(message.split("\n")[0].split()) + "\n")
    for extra in message.split("\n")[1:]:
        if extra.strip():
            sys.stderr.write(f"  {extra.strip()}\n")


def _exclude_newer_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--exclude-newer", metavar="DATE",
                   help="as uv: use no release uploaded after DATE (YYYY-MM-DD or RFC 3339), for every package; "
                        "without it, packages with no evidence of their own are taken newest before the model's era "
                        "(a soft cap: later only when nothing earlier installs)")


def _format_arguments(p: argparse.ArgumentParser) -> None:
    """pip's --only-binary / --no-binary, with pip's values (names, :all:, :none:; repeatable)."""
    p.add_argument("--only-binary", action="append", default=[], metavar="PKG|:all:",
                   help="never lock an sdist for these packages (:all: = wheels only, as before sdist support)")
    p.add_argument("--no-binary", action="append", default=[], metavar="PKG|:all:",
                   help="lock the sdist of these packages even where a wheel exists (built at install time)")


class UsageError(Exception):
    """argparse's complaint (unknown flag, missing value), raised instead of exiting so that
    `--json` can still answer in JSON; exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


class _Platforms(argparse.Action):
    """`-p linux-64 -p osx-arm64`: every platform into `platforms`, the first is `platform`."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        found = [*(getattr(namespace, "platforms", None) or []), values]
        namespace.platforms, namespace.platform = found, found[0]


def _target_arguments(p: argparse.ArgumentParser) -> None:
    """The target: pip/uv's names (--python-version, --python-platform) next to kresolve's own."""
    p.add_argument("--python", "--python-version", dest="python", metavar="X.Y[.Z]",
                   help=f"target CPython: a minor (3.11) or a release (3.11.4, which pins python_full_version); "
                        f"{PYTHON_MINORS[0]} to {PYTHON_MINORS[-1]} (default: this interpreter)")
    p.add_argument("-p", "--platform", "--python-platform", dest="platform", metavar="PLATFORM", action=_Platforms,
                   help=f"target platform: {platform_words()} (default: this host); lock takes several "
                        f"(-p linux-64 -p osx-arm64: one conda-lock.yml for all, the first is the primary target)")
    p.set_defaults(platforms=[])
    p.add_argument("--glibc", metavar="X.Y",
                   help=f"oldest glibc of a Linux target (default: this host's for linux targets on this host, else "
                        f"{DEFAULT_GLIBC[0]}.{DEFAULT_GLIBC[1]}; uv's *-manylinux_2_NN names set it)")
    p.add_argument("--macos", metavar="X.Y",
                   help=f"oldest macOS of a macOS target (default: {DEFAULT_MACOS['arm64'][0]}.0; "
                        f"{UV_MACOS[0]}.0 for uv's macos/*-apple-darwin names, as uv)")
    p.add_argument("--gpu", action="store_true",
                   help="solve for the GPU build (CUDA on linux-64 and win-64, Metal on osx-arm64; rules/gpu.toml)")
    p.add_argument("--cuda-driver", metavar="VERSION", help="the target's NVIDIA driver version (implies --gpu)")


def _index_arguments(p: argparse.ArgumentParser) -> None:
    """pip's index options with pip's names and meanings; they override pip.conf and PIP_* as in pip."""
    p.add_argument("-i", "--index-url", metavar="URL", help="the package index (PEP 503/691), instead of pip.conf's index-url")
    p.add_argument("--extra-index-url", action="append", default=[], metavar="URL",
                   help="another index, besides --index-url and pip.conf's; repeatable")
    p.add_argument("-f", "--find-links", action="append", default=[], metavar="DIR|URL",
                   help="a local directory of wheels/sdists or an HTML page of links (path or URL); repeatable")
    p.add_argument("--no-index", action="store_true", help="ignore every index: only --find-links")
    p.add_argument("--offline", action="store_true", help="use only the on-disk cache, never the network")


def _output_arguments(p: argparse.ArgumentParser, json_help: str = "machine-readable output on stdout, errors included") -> None:
    p.add_argument("--json", action="store_true", help=json_help)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress and no tables: errors and warnings only")
    p.add_argument("-v", "--verbose", action="store_true", help="also the index configuration used and per-stage counts")


DESCRIPTION = "The nearest environment in which a saved Keras/TensorFlow model loads again."


def _parser() -> argparse.ArgumentParser:
    return fill_parser(_Parser(prog="kresolve", description=DESCRIPTION))


def fill_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Every command and argument, on `parser`: the `kresolve` command's, or the one conda hands
    its `conda kresolve` plugin (kresolve.conda_plugin), so both take the same arguments."""
    parser.add_argument("--version", action="version", version=f"kresolve {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("inspect", help="what a model file says about itself (never runs model code)")
    p.add_argument("models", nargs="+", metavar="MODEL")
    _output_arguments(p, "machine-readable output (docs/inspect-json.md)")

    p = sub.add_parser("lock", help="solve, lock and smoke-test the nearest environment")
    p.add_argument("model", metavar="MODEL", nargs="+",
                   help="the model; several: one environment for all of them (or which model conflicts with which)")
    _target_arguments(p)
    p.add_argument("-o", "--output", default=".", metavar="DIR",
                   help="directory for the lockfiles and kresolve-report.json (default: the current directory)")
    p.add_argument("--dry-run", action="store_true", help="solve and print the result; write nothing, build nothing")
    p.add_argument("--format", metavar="FORMATS", dest="formats",
                   help="lockfiles to write, a comma list of pip,conda-lock,pylock,env (default: pip plus the formats "
                        "the project already uses: a pylock.toml, conda-lock.yml or environment.yml beside the model "
                        "or in the current directory)")
    p.add_argument("-c", "--channel", action="append", default=[], dest="channels", metavar="CHANNEL",
                   help="conda channel for conda-lock/env (name, URL, file:///dir; repeatable; default: the template's, "
                        "then .condarc's channels, then conda-forge)")
    p.add_argument("--template", metavar="FILE",
                   help="environment.template.yml with serving packages to co-resolve with the model's needs "
                        "(conda list into the conda solve, pip list into the pip solve)")
    p.add_argument("--no-smoke", action="store_true", help="do not build the environment and load the model")
    p.add_argument("--trust-model", action="store_true", help="allow the smoke test to run code stored in the model (Lambda layers)")
    _index_arguments(p)
    p.add_argument("--policy", metavar="FILE", help="approved version set to stay inside (see rules/approved/)")
    p.add_argument("--requirement", action="append", default=[], metavar="REQ",
                   help="also install this requirement (e.g. the package that defines custom layers); repeatable")
    p.add_argument("--custom-objects", action="append", default=[], metavar="MODULE",
                   help="module the smoke test imports before loading (defines/registers custom classes); repeatable")
    p.add_argument("--code-path", action="append", default=[], metavar="DIR",
                   help="directory to import --custom-objects modules from (default: the current directory)")
    _output_arguments(p, "print the report (docs/report-json.md) as JSON on stdout, errors included")
    _format_arguments(p)
    _exclude_newer_argument(p)

    _scan_parser(sub)

    p = sub.add_parser("smoke", help="build an env from a lockfile, load the model there, compare with the recording")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--lock", required=True, metavar="FILE", help="the lock kresolve lock wrote: requirements.txt, pylock.toml or conda-lock.yml")
    p.add_argument("--loader", choices=LOADERS, help="override the loader the lock's header names")
    p.add_argument("--trust-model", action="store_true", help="allow running code stored in the model (Lambda layers)")
    p.add_argument("--custom-objects", action="append", default=[], metavar="MODULE",
                   help="module to import before loading (defines/registers custom classes); repeatable")
    p.add_argument("--code-path", action="append", default=[], metavar="DIR", help="directory to import modules from")
    _index_arguments(p)
    _output_arguments(p)

    p = sub.add_parser("capture", help="run in the training environment: write kresolve.json next to the model")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("-o", "--output", metavar="FILE", help="sidecar path (default: kresolve.json next to the model)")
    p.add_argument("--trust-model", action="store_true", help="allow loading a model whose Lambda layers store code")
    p.add_argument("--python", metavar="INTERPRETER", help="the training environment's interpreter (default: this one)")
    p.add_argument("--custom-objects", action="append", default=[], metavar="MODULE",
                   help="module to import before loading (defines/registers custom classes); repeatable")
    p.add_argument("--code-path", action="append", default=[], metavar="DIR", help="directory to import modules from")
    p.add_argument("--timeout", type=float, default=600, help="seconds before loading is given up (default 600)")

    p = sub.add_parser("diagnose", help="map a model-load error to known causes and the fix")
    p.add_argument("text", nargs="?", metavar="ERROR TEXT")
    p.add_argument("--file", metavar="FILE", help="read the error (e.g. a whole traceback) from a file; - for stdin")
    p.add_argument("--installed", action="append", default=[], metavar="NAME==VERSION",
                   help="versions in the failing environment, to check each cause's combination; repeatable")
    _output_arguments(p)

    p = sub.add_parser("explain", help="why each pin (rules, sources, distance); on failure what would make it solvable")
    p.add_argument("model", metavar="MODEL")
    _target_arguments(p)
    p.add_argument("--policy", metavar="FILE", help="approved version set to stay inside")
    p.add_argument("--requirement", action="append", default=[], metavar="REQ", help="also install this requirement; repeatable")
    _index_arguments(p)
    _output_arguments(p)
    _format_arguments(p)
    _exclude_newer_argument(p)

    p = sub.add_parser("rules", help="the rules database: check, show")
    rules_sub = p.add_subparsers(dest="rules_command", required=True)
    q = rules_sub.add_parser("check", help="schema and consistency (contradictions, gaps, ambiguity, sources)")
    _output_arguments(q)
    q = rules_sub.add_parser("verify", help="cross-check the rules against the real index's wheel metadata")
    q.add_argument("packages", nargs="*", metavar="PKG", help="only rules about these packages (default: all)")
    q.add_argument("--rule", action="append", default=[], metavar="ID", help="only these rule ids")
    _index_arguments(q)
    _output_arguments(q)
    q = rules_sub.add_parser("show", help="every rule about a package, with sources")
    q.add_argument("package")
    q.add_argument("version", nargs="?", help="only rules that apply to this version (PEP 440)")
    _output_arguments(q)

    p = sub.add_parser("install", help="create the environment a lock describes (conda part by py-rattler, pip part hash-checked)")
    p.add_argument("lock", metavar="LOCK", help="conda-lock.yml, pylock.toml or a kresolve requirements.txt")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("-p", "--prefix", metavar="PREFIX", help="the environment's directory")
    where.add_argument("-n", "--name", metavar="NAME", help="an environment in conda's envs directory "
                       "(CONDA_ENVS_PATH, .condarc envs_dirs, else ~/.conda/envs)")
    p.add_argument("--python", dest="install_python", metavar="INTERPRETER",
                   help="for a pip-only lock: the interpreter the venv is made from (default: one of the lock's Python)")
    _index_arguments(p)
    _output_arguments(p)
    return parser


def _render_facts(facts: ModelFacts) -> None:
    table = Table(title=f"[bold]{facts.path}[/]", show_header=False, title_justify="left")
    table.add_column(style="cyan")
    table.add_column()
    rows = [
        ("format", f"{facts.format} — {facts.format_detail}"),
        ("architecture", facts.architecture),
        ("keras_version", facts.keras_version),
        ("backend", facts.backend),
        ("tensorflow_version", facts.tensorflow_version),
        ("date_saved", facts.date_saved),
        ("model class", facts.model_class),
        ("layers", ", ".join(facts.layer_classes)),
        ("inputs", ", ".join(f"{t.name} {list(t.shape) if t.shape is not None else '?'} {t.dtype}" for t in facts.inputs)),
        ("custom objects", ", ".join(c.registered_name or c.class_name for c in facts.custom_objects)),
        ("Lambda layers", ", ".join(f"{lam.layer_name} ({lam.encoding}{', Python ' + lam.python_hint if lam.python_hint else ''})" for lam in facts.lambda_layers)),
        ("signatures", ", ".join(facts.signatures)),
        ("sidecar", facts.sidecar.path if facts.sidecar else None),
    ]
    for key, value in rows:
        if value:
            _row(table, key, str(value))
    for note in facts.notes:
        _row(table, "note", note)
    out.print(table)


def _render_training(training: TrainingEnv) -> None:
    table = Table(title="Inferred training environment", title_justify="left")
    for col in ("package", "range", "preferred", "confidence", "because"):
        table.add_column(col, overflow="fold")
    key = set(SHOWN_PACKAGES)
    for est in training.estimates:
        if est.package in key:
            _row(table, est.package, est.range or "?", est.preferred or "", est.confidence, "; ".join(est.reasons[:2]))
    out.print(table)
    out.print(f"[dim]decided by: {esc(str(training.decided_by))}[/]")
    for hard in training.hard:
        out.print(f"[bold]hard constraint[/] {esc(str(hard.requirement))}: {esc(str(hard.reason))}")
    for note in training.notes:
        out.print(f"[yellow]note[/] {esc(str(note))}")


def _render_lock(result: api.LockResult) -> None:
    env = result.environment
    out.print(f"[bold]Model[/] {esc(str(result.facts.path))}: {esc(str(result.facts.format))}, written by Keras {esc(str(result.facts.keras_version or '?'))}"
              + (f" / TensorFlow {result.facts.tensorflow_version}" if result.facts.tensorflow_version else ""))
    route = env.plan.route
    out.print(f"[bold]Loader[/] {esc(str(route.loader))} (rule {esc(str(route.id))}): {esc(str(route.reason))}")
    for rid, why in env.skipped_routes:
        out.print(f"  [yellow]not used[/] {esc(str(rid))}: {esc(str(why))}")
    if env.accelerator is not None:
        acc = env.accelerator
        cuda = f"CUDA {acc.cuda}, cuDNN {acc.cudnn}" + (f", NVIDIA driver ≥ {acc.min_driver}" if acc.min_driver else "") if acc.cuda else "no CUDA"
        out.print(f"[bold]GPU[/] {esc(str(cuda))}: {esc(str(acc.note))} [dim](rule {esc(str(acc.id))})[/]")
    if env.env_vars:
        out.print("[bold]Environment variables[/] " + " ".join(f"{k}={v}" for k, v in env.env_vars.items()))
    for caveat in route.caveats:
        out.print(f"  [dim]caveat: {esc(str(caveat))}[/]")
    if env.cutoff is not None:
        out.print(f"[bold]Era cut-off[/] {esc(env.cutoff.describe())}")
    pinned = {p.name: p.version for p in env.pins}
    for comp in result.report.companions:
        version = f" {pinned[comp.package]}" if comp.package in pinned else ""
        out.print(f"[bold]Added[/] {esc(comp.package)}{esc(version)}: {esc(comp.reason)} [dim](rule {esc(comp.rule_id)})[/]")
    table = Table(title=f"Pins for {env.target.describe()}", title_justify="left")
    for col in ("package", "version", "training", "distance", "why"):
        table.add_column(col, overflow="fold")
    key = set(SHOWN_PACKAGES) - {"python"}
    shown = [env.python] + [p for p in env.pins if p.top_level or p.name in key or p.why_not_preferred or p.from_source]
    for pin in shown:
        if pin.name == "python":
            why = "target interpreter"
        elif pin.top_level:
            why = f"loads the model (rule {route.id})"
        else:
            why = "via " + ", ".join(pin.via)
        if pin.why_not_preferred:
            why += f"; training version not used: {pin.why_not_preferred}"
        if pin.from_source:
            why += "; built from source at install time (its sdist: no wheel of it is used here)"
        _row(table, pin.name, pin.version, pin.preferred or "", pin.distance_text or "", why)
    out.print(table)
    others = len(env.pins) - (len(shown) - 1)
    exact = sum(1 for p in env.pins if p.distance is not None and p.distance.kind is DistanceKind.EXACT)
    if others:
        out.print(f"[dim]+ {others} more pins ({exact} of all {len(env.pins)} exactly as in training); every reason is in {api.REPORT}[/]")
    for advisory in result.report.advisories:
        out.print(f"[bold red]advisory[/] {esc(describe_advisory(advisory))} [dim]({esc(advisory.advisory.source)})[/]")
    if result.formats is not None and result.formats.because:
        out.print(f"[bold]Formats[/] {esc(result.formats.describe())}")
    for path in result.files:
        out.print(f"[green]wrote[/] {esc(str(path))}")
    for warning in result.warnings:
        out.print(f"[yellow]warning[/] {esc(str(warning))}")
    smoke = result.smoke
    if smoke is None:
        out.print("[bold]Smoke test[/] not run (--no-smoke)")
    else:
        colour = _SMOKE_COLOUR[smoke.status]
        out.print(f"[bold]Smoke test[/] [{colour}]{esc(str(smoke.status))}[/]: {esc(str(smoke.reason))}"
                  + (f" [dim]({smoke.seconds:.0f}s, env {'reused' if smoke.env_reused else 'built'})[/]" if smoke.env_dir else ""))
        _render_smoke_details(smoke)


def _render_smoke_details(smoke: SmokeResult) -> None:
    """Which loader proved it, the probe rules, per-output diffs, the loaders that failed."""
    if smoke.passed:
        out.print(f"  loader: [bold]{esc(smoke.loader)}[/]" + (f" (route {esc(smoke.route_id)})" if smoke.route_id else ""))
    for failed in (a for a in smoke.attempts if not a.ok):
        words = " ".join(str(failed.error).split())  # one line: tracebacks and Keras messages span many
        out.print(f"  [red]loader {esc(failed.loader)} failed[/]: {esc(words[:300])}")
    if smoke.probe_rules:
        out.print("  probe: " + ", ".join(f"{esc(n)}: {esc(r)}" for n, r in smoke.probe_rules))
    for d in smoke.outputs:
        out.print(f"  output {d.index} ({d.dtype}): max |diff| {d.max_abs_diff:.3g}, max rel {d.max_rel_diff:.3g}"
                  f" (tolerance {d.atol:g} + {d.rtol:g}·|x|) " + ("[green]ok[/]" if d.ok else "[red]differs[/]"))
    if smoke.repaired:
        out.print(f"  [yellow]{esc(smoke.repaired)}[/]")
    if smoke.isolation:
        out.print(f"  [dim]isolation: {esc(smoke.isolation)}[/]")


def _inspect(args: argparse.Namespace, session: Session) -> int:
    """Each MODEL may be a model or a directory of models: every one is reported, good or refused."""
    results = [(path, found) for m in args.models for path, found in session.inspect_all(m)]
    refused = [(p, f) for p, f in results if isinstance(f, KresolveError)]
    if args.json:
        payload = [
            refusal_json(p, f) if isinstance(f, KresolveError)
            else facts_json(f) | {"training_env": training_json(session.infer(f))}
            for p, f in results
        ]
        print(json.dumps(payload[0] if len(payload) == 1 and not refused else payload, indent=2))
    else:
        for path, found in results:
            if isinstance(found, KresolveError):
                _error(f"kresolve: error: {found}")
            else:
                _render_facts(found)
                _render_training(session.infer(found))
        if len(results) > 1:
            out.print(f"{len(results)} models: {len(results) - len(refused)} read, {len(refused)} refused")
    return 2 if refused else 0


def _diagnose(args: argparse.Namespace, session: Session) -> int:
    if args.file:
        try:
            text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8", "replace")
        except OSError as exc:
            raise BadInput(f"{args.file}: cannot read: {exc.strerror}") from None
    elif args.text:
        text = args.text
    else:
        raise BadInput("diagnose needs the error text as an argument or --file FILE")
    installed: dict[str, str] = {}
    for item in args.installed:
        name, sep, version = item.partition("==")
        if not sep or not name or not version:
            raise BadInput(f"--installed {item!r}: expected NAME==VERSION")
        installed[name] = version
    found = session.diagnose(text, installed or None)
    if args.json:
        print(json.dumps([d.as_dict() for d in found], indent=2))
        return 0 if found else 1
    if not found:
        out.print("no known cause matches this error (the rules DB has none for it)")
        return 1
    for d in found:
        applies = {True: "[green]your versions match[/]", False: "[dim]your versions do not match[/]", None: ""}[d.applies]
        out.print(f"[bold]{esc(d.rule_id)}[/] {applies}")
        out.print(f"  matched: {d.matched}", markup=False)
        out.print(f"  cause: {d.cause}", markup=False)
        out.print(f"  fix: {d.fix}", markup=False)
        out.print(f"  source: {d.source}", markup=False)
    return 0


def _explain(args: argparse.Namespace, session: Session) -> int:
    result = session.explain(args.model, python=args.python, platform=args.platform,
                             requirements=tuple(args.requirement), gpu=args.gpu, cuda_driver=args.cuda_driver,
                             exclude_newer=args.exclude_newer, glibc=args.glibc, macos=args.macos)
    rules = session.rules  # the rules the solve used, read once
    if args.json:
        payload = {"facts": facts_json(result.facts), "training_env": training_json(result.training),
                   "environment": environment_json(result.environment) if result.environment else None,
                   "failure": result.failure, "alternatives": [{"change": c, "gives": g} for c, g in result.alternatives]}
        print(json.dumps(payload, indent=2))
        return 0 if result.environment else 1
    _render_training(result.training)
    if result.environment is None:
        _error(f"kresolve: no environment: {result.failure}")
        if result.alternatives:
            out.print("[bold]What would make it solvable[/]")
            for change, gives in result.alternatives:
                out.print(f"  {change}: {gives}", markup=False)
        else:
            out.print("[bold]No other Python, platform or dropping the policy makes it solvable.[/]")
        return 1
    env = result.environment
    route = env.plan.route
    out.print(f"[bold]Route[/] {esc(str(route.id))}: {esc(str(route.reason))} [dim]({esc(str(route.source))})[/]")
    for rid, why in env.skipped_routes:
        out.print(f"  [yellow]not used[/] {esc(str(rid))}: {esc(str(why))}")
    table = Table(title=f"Every pin for {env.target.describe()}", title_justify="left")
    for col in ("package", "version", "distance", "why", "rules"):
        table.add_column(col, overflow="fold")
    for pin in (env.python, *env.pins):
        sources = []
        for rid in pin.rule_ids:
            rule = rules.by_id(rid)
            sources.append(f"{rid} ({rule.source})" if rule else rid)
        reason = pin.reason + ("; built from source: its sdist is locked (no wheel for this target)" if pin.from_source else "")
        _row(table, pin.name, pin.version, pin.distance_text or "", reason, "\n".join(sources))
    out.print(table)
    return 0


def _rules(args: argparse.Namespace, session: Session) -> int:
    rules = session.rules
    if args.rules_command == "check":
        from .rules.check import Level

        findings = session.rules_check()
        errors = [f for f in findings if f.level is Level.ERROR]
        if args.json:
            print(json.dumps({"rules": rules.count, "findings": [f.__dict__ | {"rule_ids": list(f.rule_ids)} for f in findings]}, indent=2))
        else:
            for f in findings:
                out.print(f"{f.level}: {', '.join(f.rule_ids)}: {f.message}", markup=False)
            out.print(f"{rules.count} rules from {rules.root}: {len(errors)} errors, {len(findings) - len(errors)} warnings")
        return 2 if errors else 0
    if args.rules_command == "verify":
        return _verify(args, session)
    lines = session.rules_show(args.package, args.version)
    if args.json:
        print(json.dumps([line.__dict__ for line in lines], indent=2))
        return 0
    if not lines:
        out.print(f"no rules mention {args.package}" + (f" {args.version}" if args.version else ""), markup=False)
        return 0
    table = Table(title=f"Rules about {args.package}" + (f" {args.version}" if args.version else ""), title_justify="left")
    for col in ("id", "kind", "says", "why", "source"):
        table.add_column(col, overflow="fold")
    for line in lines:
        _row(table, line.id, line.kind, line.says, line.reason, line.source)
    out.print(table)
    return 0


def _install(args: argparse.Namespace, session: Session) -> int:
    from .install import Outcome

    done = session.install(args.lock, prefix=args.prefix, name=args.name, python=args.install_python)
    prefix, lock = done.prefix, done.lock
    if args.json:
        print(json.dumps({"prefix": str(done.prefix), "outcome": done.outcome.value, "lock": str(lock.path),
                          "kind": lock.kind.value, "sha256": lock.digest, "conda_packages": len(lock.conda),
                          "pip_packages": lock.pip_count, "python": str(done.python) if done.python else None}, indent=2))
        return 0
    if done.outcome is Outcome.UP_TO_DATE:
        out.print(f"{esc(str(prefix))} is up to date: {esc(str(lock.path))} (sha256 {lock.digest[:12]}) is already installed "
                  f"there (stamp {esc(str(done.stamp))}); nothing to do")
        return 0
    out.print(f"[green]installed[/] {esc(str(lock.path))} into {esc(str(prefix))}: {len(lock.conda)} conda packages "
              f"(py-rattler), {lock.pip_count} pip packages (hash-checked)")
    if done.python:
        out.print(f"  python: {esc(str(done.python))}")
    return 0


def _verify(args: argparse.Namespace, session: Session) -> int:
    from .rules.verify import BUGS, DisagreementKind

    found = session.rules_verify(args.packages, args.rule)
    bugs = [d for d in found if d.kind in BUGS]
    if args.json:
        print(json.dumps([d.__dict__ for d in found], indent=2))
    else:
        for d in found:
            out.print(f"{d.kind}: {d.rule_id} ({d.release}): {d.detail}", markup=False)
        kinds = ", ".join(f"{sum(d.kind is k for d in found)} {k}" for k in DisagreementKind)
        out.print(f"{len(found)} disagreements with the index: {kinds}")
    return 1 if bugs else 0


def _index_config(args: argparse.Namespace) -> IndexConfig:
    """pip.conf / PIP_* first, then this command line's index flags over them, as pip does."""
    from urllib.parse import urlparse

    from .index import read_pip_config

    for url in ([args.index_url] if args.index_url else []) + list(args.extra_index_url):
        if urlparse(url).scheme not in ("http", "https", "file"):
            raise BadInput(f"index URL {url!r}: expected an http://, https:// or file:// URL")
    for location in args.find_links:
        if urlparse(location).scheme not in ("http", "https", "file") and not Path(location).exists():
            raise BadInput(f"--find-links {location}: no such directory or file")
    config = read_pip_config().with_options(args.index_url, tuple(args.extra_index_url), tuple(args.find_links), args.no_index)
    if config.no_index and not config.find_links:
        raise BadInput("--no-index: give --find-links DIR|URL (with no index, that is where packages come from)")
    if args.verbose:
        from .index.config import pip_config_paths

        read = [str(f) for f in pip_config_paths(dict(os.environ)) if f.is_file()]
        sys.stderr.write(f"kresolve: pip configuration read: {', '.join(read) or '(none)'}\n")
        sys.stderr.write(f"kresolve: indexes: {', '.join(config.urls) or '(none: --no-index)'}"
                         + (f"; find-links: {', '.join(config.find_links)}" if config.find_links else "")
                         + ("; offline: the cache only" if args.offline else "") + "\n")
    return config


def _progress(args: argparse.Namespace) -> Progress | None:
    """Progress on stderr: live on a terminal, plain lines otherwise, nothing under -q."""
    if getattr(args, "quiet", False):
        return None
    if sys.stderr.isatty():
        return RichProgress(Console(stderr=True, highlight=False))
    return PlainProgress(sys.stderr, silent=() if getattr(args, "verbose", False) else (Stage.INSPECT,))


def _fail(as_json: bool, message: str, kind: ErrorKind, code: int, prefix: str = "kresolve: error: ") -> int:
    """An error: one line on stderr, and with --json also `{"error": …, "exit_code": N}` on stdout."""
    if as_json:
        print(json.dumps({"error": {"message": " ".join(message.split()), "kind": kind.value}, "exit_code": code}, indent=2))
    _error(prefix + message)
    return code


def _lock(args: argparse.Namespace) -> int:
    if len(args.model) > 1:
        from .scan.cli import lock_many

        return lock_many(args, out)
    args.model = args.model[0]
    with session_from(args) as session:
        result = session.lock(
            args.model, python=args.python, platform=args.platform, out_dir=Path(args.output),
            smoke=not args.no_smoke, trust_model=args.trust_model,
            requirements=tuple(args.requirement), custom_objects=tuple(args.custom_objects),
            code_paths=tuple(args.code_path), gpu=args.gpu, cuda_driver=args.cuda_driver,
            exclude_newer=args.exclude_newer, formats=args.formats, glibc=args.glibc, macos=args.macos,
            dry_run=args.dry_run, platforms=tuple(args.platforms), channels=tuple(args.channels),
            template=args.template,
        )
    if args.json:
        print(json.dumps(result.report.to_json(), indent=2))
    elif args.quiet:
        for warning in result.warnings:
            _error(f"kresolve: warning: {warning}")
    else:
        _render_lock(result)
        if args.dry_run:
            out.print("[bold]Dry run[/]: nothing written, no smoke test (" + ", ".join(f.value for f in result.report.formats.formats)
                      + f" would go to {esc(str(args.output))})")
    return 0


def _smoke(args: argparse.Namespace, session: Session) -> int:
    result = session.smoke(args.model, args.lock, loader=args.loader, trust_model=args.trust_model,
                           custom_objects=tuple(args.custom_objects), code_paths=tuple(args.code_path))
    if args.json:
        print(json.dumps(smoke_json(result), indent=2))
    else:
        out.print(f"[bold]Smoke test[/] [{_SMOKE_COLOUR[result.status]}]{result.status}[/]: {esc(result.reason)}")
        _render_smoke_details(result)
    # Asked for a smoke test and none ran (e.g. Lambda layers without --trust-model): usage.
    return {SmokeStatus.PASSED: 0, SmokeStatus.FAILED: 3, SmokeStatus.SKIPPED: 2}[result.status]


def _capture(args: argparse.Namespace) -> int:
    from .capture import run_capture

    done = run_capture(args.model, args.output, trust=args.trust_model, timeout=args.timeout,
                       python=args.python, paths=tuple(args.code_path), imports=tuple(args.custom_objects))
    for warning in done.warnings:
        out.print(f"[yellow]warning[/] {esc(str(warning))}")
    out.print(f"[green]wrote[/] {esc(str(done.path))}")
    return 0


def _scan(args: argparse.Namespace) -> int:
    return _scan_command(args, out)


# Commands that share one Session (built from their arguments by session_from, closed after);
# lock builds its own (several models go to scan.cli.lock_many), capture and scan need none.
SESSION_COMMANDS: dict[str, Callable[[argparse.Namespace, Session], int]] = {
    "inspect": _inspect, "smoke": _smoke, "diagnose": _diagnose, "explain": _explain, "rules": _rules,
    "install": _install}
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"lock": _lock, "capture": _capture, "scan": _scan}


def _run_command(args: argparse.Namespace) -> int | None:
    """The command's exit code; None for a command kresolve does not have."""
    if args.command in SESSION_COMMANDS:
        with session_from(args) as session:
            return SESSION_COMMANDS[args.command](args, session)
    command = COMMANDS.get(args.command)
    return None if command is None else command(args)


PROGRESS_COMMANDS = ("lock", "explain", "smoke", "rules")  # the commands that show stages (rules: verify)


def session_from(args: argparse.Namespace, progress: bool = True) -> Session:
    """The command's Session: its index flags (pip.conf and PIP_* under them), --offline, the
    progress sink (`progress=False`: none), --policy and pip's --only-binary/--no-binary, where
    the command has them."""
    shown = progress and args.command in PROGRESS_COMMANDS
    return Session(index_config=_index_config(args) if hasattr(args, "index_url") else None,
                   offline=bool(getattr(args, "offline", False)), progress=_progress(args) if shown else None,
                   policy=getattr(args, "policy", None), only_binary=tuple(getattr(args, "only_binary", ())),
                   no_binary=tuple(getattr(args, "no_binary", ())))


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    as_json = "--json" in words
    try:
        args = _parser().parse_args(words)
    except UsageError as exc:
        return _fail(as_json, str(exc), ErrorKind.USAGE, 2, prefix="")
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Run a parsed command: `kresolve`'s, or the namespace conda parsed for `conda kresolve`."""
    as_json = bool(getattr(args, "json", False))
    out.quiet = bool(getattr(args, "quiet", False))  # tables and results; errors and warnings still show
    try:
        code = _run_command(args)
        if code is None:
            return _fail(as_json, f"unknown command {args.command!r}", ErrorKind.USAGE, 2)
        return code
    except SmokeFailed as exc:
        return _fail(as_json, str(exc), exc.error_kind, exc.exit_code, prefix="kresolve: ")
    except KresolveError as exc:
        return _fail(as_json, str(exc), exc.error_kind, exc.exit_code)
    except BrokenPipeError:  # `kresolve inspect … | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return _fail(as_json, "interrupted", ErrorKind.INTERRUPTED, 130, prefix="kresolve: ")
    except Exception as exc:  # noqa: BLE001 - a bug: still one line, unless asked for the traceback
        if os.environ.get("KRESOLVE_DEBUG"):
            traceback.print_exc()
        return _fail(as_json, f"internal error: {type(exc).__name__}: {exc} (set KRESOLVE_DEBUG=1 for a traceback)",
                     ErrorKind.INTERNAL, 2, prefix="kresolve: ")


if __name__ == "__main__":
    sys.exit(main())
