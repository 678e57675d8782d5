"""Command line: parse arguments, call the API, render. No logic of its own."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path

from rich.console import Console
from rich.markup import escape as esc
from rich.table import Table
from rich.text import Text

from . import __version__, api
from .errors import BadInput, KresolveError, SmokeFailed
from .report import environment_json, facts_json, refusal_json, smoke_json, training_json
from .rules.db import LOADERS, load_rules
from .target import PLATFORMS

out = Console(highlight=False)


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kresolve", description="The nearest environment in which a saved Keras/TensorFlow model loads again.")
    parser.add_argument("--version", action="version", version=f"kresolve {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("inspect", help="what a model file says about itself (never runs model code)")
    p.add_argument("models", nargs="+", metavar="MODEL")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("lock", help="solve, lock and smoke-test the nearest environment")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--python", help="target Python minor, e.g. 3.11 (default: this interpreter)")
    p.add_argument("--platform", choices=sorted(PLATFORMS), help="target platform (default: this host)")
    p.add_argument("-o", "--output", default=".", help="directory for requirements.txt and kresolve-report.json")
    p.add_argument("--no-smoke", action="store_true", help="do not build the environment and load the model")
    p.add_argument("--trust-model", action="store_true", help="allow the smoke test to run code stored in the model (Lambda layers)")
    p.add_argument("--offline", action="store_true", help="use only the on-disk cache, never the network")
    p.add_argument("--policy", metavar="FILE", help="approved version set to stay inside (see rules/approved/)")
    p.add_argument("--gpu", action="store_true", help="solve for the GPU build (CUDA on Linux, Metal on Apple silicon)")
    p.add_argument("--cuda-driver", metavar="VERSION", help="the target's NVIDIA driver version (implies --gpu)")
    p.add_argument("--requirement", action="append", default=[], metavar="REQ",
                   help="also install this requirement (e.g. the package that defines custom layers); repeatable")
    p.add_argument("--custom-objects", action="append", default=[], metavar="MODULE",
                   help="module the smoke test imports before loading (defines/registers custom classes); repeatable")
    p.add_argument("--code-path", action="append", default=[], metavar="DIR",
                   help="directory to import --custom-objects modules from (default: the current directory)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _format_arguments(p)
    _exclude_newer_argument(p)

    p = sub.add_parser("smoke", help="build an env from a lockfile, load the model there, compare with the recording")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--lock", required=True, metavar="FILE", help="requirements.txt written by kresolve lock")
    p.add_argument("--loader", choices=LOADERS, help="override the loader the lock's header names")
    p.add_argument("--trust-model", action="store_true", help="allow running code stored in the model (Lambda layers)")
    p.add_argument("--custom-objects", action="append", default=[], metavar="MODULE")
    p.add_argument("--code-path", action="append", default=[], metavar="DIR")
    p.add_argument("--json", action="store_true")

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
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("explain", help="why each pin (rules, sources, distance); on failure what would make it solvable")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--python", help="target Python minor (default: this interpreter)")
    p.add_argument("--platform", choices=sorted(PLATFORMS), help="target platform (default: this host)")
    p.add_argument("--policy", metavar="FILE", help="approved version set to stay inside")
    p.add_argument("--gpu", action="store_true", help="solve for the GPU build")
    p.add_argument("--cuda-driver", metavar="VERSION", help="the target's NVIDIA driver version (implies --gpu)")
    p.add_argument("--requirement", action="append", default=[], metavar="REQ")
    p.add_argument("--offline", action="store_true")
    p.add_argument("--json", action="store_true")
    _format_arguments(p)
    _exclude_newer_argument(p)

    p = sub.add_parser("rules", help="the rules database: check, show")
    rules_sub = p.add_subparsers(dest="rules_command", required=True)
    q = rules_sub.add_parser("check", help="schema and consistency (contradictions, gaps, ambiguity, sources)")
    q.add_argument("--json", action="store_true")
    q = rules_sub.add_parser("verify", help="cross-check the rules against the real index's wheel metadata")
    q.add_argument("packages", nargs="*", metavar="PKG", help="only rules about these packages (default: all)")
    q.add_argument("--rule", action="append", default=[], metavar="ID", help="only these rule ids")
    q.add_argument("--json", action="store_true")
    q = rules_sub.add_parser("show", help="every rule about a package, with sources")
    q.add_argument("package")
    q.add_argument("version", nargs="?")
    q.add_argument("--json", action="store_true")
    return parser


def _render_facts(facts) -> None:
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


def _render_training(training) -> None:
    table = Table(title="Inferred training environment", title_justify="left")
    for col in ("package", "range", "preferred", "confidence", "because"):
        table.add_column(col, overflow="fold")
    key = {"keras", "tf-keras", "tensorflow", "python", "numpy", "h5py", "protobuf"}
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
    for comp in result.report.get("companions", []):
        version = f" {pinned[comp['package']]}" if comp["package"] in pinned else ""
        out.print(f"[bold]Added[/] {esc(comp['package'])}{esc(version)}: {esc(comp['reason'])} [dim](rule {esc(comp['rule'])})[/]")
    table = Table(title=f"Pins for {env.target.describe()}", title_justify="left")
    for col in ("package", "version", "training", "distance", "why"):
        table.add_column(col, overflow="fold")
    key = {"keras", "tf-keras", "tensorflow", "numpy", "h5py", "protobuf"}
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
        _row(table, pin.name, pin.version, pin.preferred or "", pin.distance or "", why)
    out.print(table)
    others = len(env.pins) - (len(shown) - 1)
    exact = sum(1 for p in env.pins if p.distance == "exact")
    if others:
        out.print(f"[dim]+ {others} more pins ({exact} of all {len(env.pins)} exactly as in training); every reason is in {api.REPORT}[/]")
    for advisory in result.report.get("advisories", []):
        out.print(f"[bold red]advisory[/] {esc(advisory['line'])} [dim]({esc(advisory['source'])})[/]")
    for path in result.files:
        out.print(f"[green]wrote[/] {esc(str(path))}")
    for warning in result.warnings:
        out.print(f"[yellow]warning[/] {esc(str(warning))}")
    smoke = result.smoke
    if smoke is None:
        out.print("[bold]Smoke test[/] not run (--no-smoke)")
    else:
        colour = {"passed": "green", "failed": "red", "skipped": "yellow"}[smoke.status]
        out.print(f"[bold]Smoke test[/] [{colour}]{esc(str(smoke.status))}[/]: {esc(str(smoke.reason))}"
                  + (f" [dim]({smoke.seconds:.0f}s, env {'reused' if smoke.env_reused else 'built'})[/]" if smoke.env_dir else ""))
        _render_smoke_details(smoke)


def _render_smoke_details(smoke) -> None:
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


def _inspect(args) -> int:
    """Each MODEL may be a model or a directory of models: every one is reported, good or refused."""
    from .artifact import inspect_all

    rules = load_rules()
    results = [(path, found) for m in args.models for path, found in inspect_all(m)]
    refused = [(p, f) for p, f in results if isinstance(f, KresolveError)]
    if args.json:
        payload = [
            refusal_json(p, f) if isinstance(f, KresolveError)
            else facts_json(f) | {"training_env": training_json(api.infer_training_env(f, rules))}
            for p, f in results
        ]
        print(json.dumps(payload[0] if len(payload) == 1 and not refused else payload, indent=2))
    else:
        for path, found in results:
            if isinstance(found, KresolveError):
                _error(f"kresolve: error: {found}")
            else:
                _render_facts(found)
                _render_training(api.infer_training_env(found, rules))
        if len(results) > 1:
            out.print(f"{len(results)} models: {len(results) - len(refused)} read, {len(refused)} refused")
    return 2 if refused else 0


def _diagnose(args) -> int:
    from .diagnose import diagnose

    if args.file:
        try:
            text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8", "replace")
        except OSError as exc:
            raise BadInput(f"{args.file}: cannot read: {exc.strerror}") from None
    elif args.text:
        text = args.text
    else:
        raise BadInput("diagnose needs the error text as an argument or --file FILE")
    installed = {}
    for item in args.installed:
        name, sep, version = item.partition("==")
        if not sep or not name or not version:
            raise BadInput(f"--installed {item!r}: expected NAME==VERSION")
        installed[name] = version
    found = diagnose(text, load_rules(), installed or None)
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


def _explain(args) -> int:
    result = api.explain(args.model, python=args.python, platform=args.platform, policy=args.policy,
                         requirements=tuple(args.requirement), offline=args.offline, gpu=args.gpu,
                         cuda_driver=args.cuda_driver, only_binary=tuple(args.only_binary),
                         no_binary=tuple(args.no_binary), exclude_newer=args.exclude_newer)
    rules = load_rules()
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
        _row(table, pin.name, pin.version, pin.distance or "", reason, "\n".join(sources))
    out.print(table)
    return 0


def _rules(args) -> int:
    from .rules.check import check_rules
    from .rules.show import rules_about

    rules = load_rules()
    if args.rules_command == "check":
        findings = check_rules(rules, Path(rules.root).parent)
        errors = [f for f in findings if f.level == "error"]
        if args.json:
            print(json.dumps({"rules": rules.count, "findings": [f.__dict__ | {"rule_ids": list(f.rule_ids)} for f in findings]}, indent=2))
        else:
            for f in findings:
                out.print(f"{f.level}: {', '.join(f.rule_ids)}: {f.message}", markup=False)
            out.print(f"{rules.count} rules from {rules.root}: {len(errors)} errors, {len(findings) - len(errors)} warnings")
        return 2 if errors else 0
    if args.rules_command == "verify":
        return _verify(rules, args)
    lines = rules_about(rules, args.package, args.version)
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


def _verify(rules, args) -> int:
    from .index import Cache, Index, read_pip_config
    from .rules.verify import BUGS, verify_rules

    index = Index(read_pip_config(), Cache())
    try:
        found = verify_rules(rules, index, args.packages, args.rule)
    finally:
        index.close()
    bugs = [d for d in found if d.kind in BUGS]
    if args.json:
        print(json.dumps([d.__dict__ for d in found], indent=2))
    else:
        for d in found:
            out.print(f"{d.kind}: {d.rule_id} ({d.release}): {d.detail}", markup=False)
        kinds = ", ".join(f"{sum(d.kind == k for d in found)} {k}" for k in ("looser", "contradicts", "stricter", "weaker", "unverifiable"))
        out.print(f"{len(found)} disagreements with the index: {kinds}")
    return 1 if bugs else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "inspect":
            return _inspect(args)
        if args.command == "lock":
            result = api.lock(
                args.model, python=args.python, platform=args.platform, out_dir=Path(args.output),
                smoke=not args.no_smoke, trust_model=args.trust_model, offline=args.offline,
                requirements=tuple(args.requirement), custom_objects=tuple(args.custom_objects),
                code_paths=tuple(args.code_path), policy=args.policy, gpu=args.gpu, cuda_driver=args.cuda_driver,
                only_binary=tuple(args.only_binary), no_binary=tuple(args.no_binary),
                exclude_newer=args.exclude_newer,
            )
            if args.json:
                print(json.dumps(result.report, indent=2))
            else:
                _render_lock(result)
            return 0
        if args.command == "smoke":
            result = api.smoke(args.model, args.lock, loader=args.loader, trust_model=args.trust_model,
                               custom_objects=tuple(args.custom_objects), code_paths=tuple(args.code_path))
            if args.json:
                print(json.dumps(smoke_json(result), indent=2))
            else:
                colour = {"passed": "green", "failed": "red", "skipped": "yellow"}[result.status]
                out.print(f"[bold]Smoke test[/] [{colour}]{result.status}[/]: {esc(result.reason)}")
                _render_smoke_details(result)
            # Asked for a smoke test and none ran (e.g. Lambda layers without --trust-model): usage.
            return {"passed": 0, "failed": 3, "skipped": 2}[result.status]
        if args.command == "capture":
            from .capture import run_capture

            done = run_capture(args.model, args.output, trust=args.trust_model, timeout=args.timeout,
                               python=args.python, paths=tuple(args.code_path), imports=tuple(args.custom_objects))
            for warning in done.warnings:
                out.print(f"[yellow]warning[/] {esc(str(warning))}")
            out.print(f"[green]wrote[/] {esc(str(done.path))}")
            return 0
        if args.command == "diagnose":
            return _diagnose(args)
        if args.command == "explain":
            return _explain(args)
        if args.command == "rules":
            return _rules(args)
    except SmokeFailed as exc:
        _error(f"kresolve: {exc}")
        return exc.exit_code
    except KresolveError as exc:
        _error(f"kresolve: error: {exc}")
        return exc.exit_code
    except BrokenPipeError:  # `kresolve inspect … | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        _error("kresolve: interrupted")
        return 130
    except Exception as exc:  # a bug: still one line, unless asked for the traceback
        if os.environ.get("KRESOLVE_DEBUG"):
            traceback.print_exc()
        _error(f"kresolve: internal error: {type(exc).__name__}: {exc} (set KRESOLVE_DEBUG=1 for a traceback)")
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
