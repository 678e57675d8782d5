"""`kresolve scan` and `kresolve lock A B C`: arguments, progress and rendering (the CLI's part)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..constants import LOADER_PACKAGES, SCAN_FORMATS
from ..errors import BadInput
from ..target import PLATFORMS

# Every command builds the parser (add_parser below), so the scan machinery (smoke, runner, cover,
# rich.progress) is imported where a scan runs, not here: `kresolve lock` never pays for it.
if TYPE_CHECKING:
    from rich.progress import TaskID

    from .evaluate import ScanOptions
    from .fleet import ModelRow, Outcome, ScanResult


def _style(outcome: Outcome) -> str:
    from . import fleet

    o = fleet.Outcome
    return {o.PROVED: "bold green", o.SOLVED: "green", o.SMOKE_FAILED: "yellow", o.UNSOLVABLE: "red", o.REFUSED: "dim red"}[outcome]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("scan", help="fleet view: every model under DIR against a policy and targets (scan.json, scan.html)")
    p.add_argument("paths", nargs="+", metavar="DIR|FILE", help="models, or directories searched for models (as inspect DIR)")
    p.add_argument("--policy", metavar="FILE", help="approved version set every environment must stay inside")
    p.add_argument("--python", action="append", default=[], metavar="X.Y",
                   help="target Python minor; repeatable (targets: every --python × every --platform; default: this host)")
    p.add_argument("-p", "--platform", action="append", default=[], metavar="PLATFORM",
                   help=f"target platform, repeatable: {', '.join(sorted(PLATFORMS))} (or uv's names, as lock takes)")
    p.add_argument("--smoke", action="store_true", help="prove each solved model on this host: build its env and load it")
    p.add_argument("--trust-model", action="store_true", help="let smoke tests run code stored in models (Lambda layers)")
    p.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                   help="smoke tests in parallel (capped by available memory, about 3 GB each)")
    p.add_argument("--timeout", type=float, default=1800, metavar="SECONDS",
                   help="per model: its smoke test (environment build included) is killed after this (default 1800)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run every model on a Dask cluster (tcp://host:8786); workers need kresolve and the model paths")
    p.add_argument("-o", "--output", default=".", metavar="DIR",
                   help="where scan.json, scan.html, the journal and envs/<n>/ go (default: the current directory)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted scan from the journal in -o DIR")
    p.add_argument("--format", dest="scan_formats", default="", metavar="FORMATS",
                   help=f"also write a lock per proposed environment into DIR/envs/<n>/: {', '.join(SCAN_FORMATS)}")
    from ..cli import _index_arguments  # the same index flags as lock (cli is loaded: it calls this)

    _index_arguments(p)
    p.add_argument("--json", action="store_true", help="print scan.json (docs/scan-json.md) on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress and no table: the summary line only")
    p.add_argument("-v", "--verbose", action="store_true", help="also the index configuration used")


def options_from(args: argparse.Namespace) -> ScanOptions:
    from .evaluate import ScanOptions, TargetSpec

    if args.jobs < 1:
        raise BadInput(f"--jobs {args.jobs}: expected 1 or more")
    if args.timeout <= 0:
        raise BadInput(f"--timeout {args.timeout:g}: expected a positive number of seconds")
    pythons = args.python or [None]
    platforms = args.platform or [None]
    targets = tuple(dict.fromkeys(TargetSpec(py, pl) for py in pythons for pl in platforms))
    for spec in targets:
        spec.target()  # a bad --python says so before any model is read
    from ..cli import _index_config

    config = _index_config(args)
    if args.policy and not Path(args.policy).is_file():
        raise BadInput(f"{args.policy}: policy file not found")
    return ScanOptions(targets=targets, policy=args.policy, index_config=config, offline=args.offline,
                       smoke=args.smoke, trust_model=args.trust_model, timeout=args.timeout)


class _Bar:
    """Models done, environments built and the ETA, on stderr."""

    def __init__(self, console: Console):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(TextColumn("[bold]scan[/]"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("models · {task.fields[built]} env(s) built"), TimeElapsedColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True)
        self.task: TaskID | None = None
        self.built = 0

    def start(self, total: int, done: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("scan", total=total, completed=done, built=0)

    def model_done(self, row: ModelRow) -> None:
        if self.task is not None:
            self.progress.advance(self.task)

    def env_built(self) -> None:
        self.built += 1
        if self.task is not None:
            self.progress.update(self.task, built=self.built)

    def stop(self) -> None:
        self.progress.stop()


class _Lines:
    """The same on a pipe or log: one line per 5% of the models (and per environment built)."""

    def __init__(self) -> None:
        self.total = self.done = self.built = 0
        self.started = time.monotonic()
        self.last = -1

    def start(self, total: int, done: int) -> None:
        self.total, self.done, self.started = total, done, time.monotonic()
        self.first = done

    def model_done(self, row: ModelRow) -> None:
        self.done += 1
        step = max(1, self.total // 20)
        if self.done // step != self.last or self.done == self.total:
            self.last = self.done // step
            self._line()

    def env_built(self) -> None:
        self.built += 1
        self._line()

    def _line(self) -> None:
        spent = time.monotonic() - self.started
        fresh = self.done - self.first
        eta = f", ETA {spent / fresh * (self.total - self.done):.0f}s" if fresh and self.done < self.total else ""
        sys.stderr.write(f"scan: {self.done}/{self.total} models, {self.built} env(s) built, {spent:.0f}s{eta}\n")

    def stop(self) -> None:
        pass


def run(args: argparse.Namespace, out: Console) -> int:
    from .core import run_scan
    from .jsonout import scan_json

    options = options_from(args)
    formats = [f.strip() for f in args.scan_formats.split(",") if f.strip()]
    err = Console(stderr=True, highlight=False)
    bar: _Bar | _Lines | None = None
    if not args.quiet and not args.json:
        bar = _Bar(err) if err.is_terminal else _Lines()
    try:
        result, written = run_scan(args.paths, options, args.output, jobs=args.jobs, resume=args.resume,
                                   scheduler=args.scheduler, formats=formats, progress=bar)
    finally:
        if bar is not None:
            bar.stop()
    if args.json:
        print(json.dumps(scan_json(result), indent=2))
    elif not args.quiet:
        _table(result, out)
        for p in result.proposals:
            core = ", ".join(f"{k} {v}" for k, v in p.pins if k != "python")
            out.print(Text(f"environment {p.number} on {p.target} ({core}): {len(p.models)} model(s), summed distance {p.distance:g}",
                           style="bold"))
            for m in p.models:
                out.print(Text(f"  {m}"))
        if result.proposals:
            out.print(Text("(greedy set cover over the solved environments: the fewest that serve every model that solves)",
                           style="dim"))
        for note in result.notes:
            out.print(Text(f"note: {note}", style="yellow"))
        for path in (written.scan_json, written.scan_html, *written.locks):
            out.print(Text(f"wrote {path}", style="green"))
    line = result.summary()
    if result.ok:
        if not args.json:
            out.print(Text(line))
        return 0
    sys.stderr.write(f"kresolve: {line}\n")
    return 1


def _table(result: ScanResult, out: Console) -> None:
    table = Table(title=f"Fleet scan{' inside ' + result.policy if result.policy else ''}", title_justify="left")
    table.add_column("model", overflow="fold")
    table.add_column("format / writer", overflow="fold")
    table.add_column("risks", overflow="fold")
    for target in result.targets:
        table.add_column(target, overflow="fold")
    for row in result.rows:
        writer = "refused (see the cell)" if row.error else " ".join(x for x in (row.format, row.keras_version and f"Keras {row.keras_version}",
                                                   row.tensorflow_version and f"TF {row.tensorflow_version}") if x)
        cells = []
        for target in result.targets:
            cell = row.cell(target)
            if cell is None:
                cells.append(Text(""))
                continue
            core = " ".join(f"{p.name} {p.version}" for p in cell.pins if p.name in LOADER_PACKAGES)
            words = cell.outcome.value + (f" via {cell.loader}" if cell.loader else "")
            detail = f"\n{core}, distance {cell.distance:g}" if cell.distance is not None else f"\n{cell.reasons[0][:160]}"
            cells.append(Text(words + detail, style=_style(cell.outcome)))
        table.add_row(Text(row.path), Text(writer), Text(", ".join(r.value for r in row.risks)), *cells)
    out.print(table)


def lock_many(args: argparse.Namespace, out: Console) -> int:
    """`kresolve lock A B C`: one environment for all of them."""
    started = time.monotonic()
    single = [flag for flag, given in (("--format", getattr(args, "formats", None) not in (None, "", "pip")),
                                       ("--template", getattr(args, "template", None)),
                                       ("--dry-run", getattr(args, "dry_run", False)),
                                       ("several -p", len(getattr(args, "platforms", None) or ()) > 1),
                                       ("--requirement", getattr(args, "requirement", None))) if given]
    if single:
        raise BadInput(f"{', '.join(single)}: not yet for several models (one requirements.txt for all of them is written)")
    from ..cli import session_from

    with session_from(args, progress=False) as session:  # its own output says what it did
        result = session.lock_many(args.model, python=args.python, platform=args.platform, out_dir=Path(args.output),
                                   smoke=not args.no_smoke, trust_model=args.trust_model,
                                   custom_objects=tuple(args.custom_objects), code_paths=tuple(args.code_path))
    if args.json:
        print(json.dumps(result.report.to_json(), indent=2))
        return 0
    co = result.together
    out.print(Text(f"One environment for {len(co.members)} models on {co.environment.target.describe()} "
                   f"(summed distance {co.total:g}, worst {co.worst:g}; {co.tried} route combination(s) tried)", style="bold"))
    table = Table(title_justify="left")
    for col in ("model", "loader (route)", "distance", "key pins (trained with)"):
        table.add_column(col, overflow="fold")
    for m in co.members:
        pins = ", ".join(f"{n} {v}" + (f" ({p})" if p and p != v else "") for n, v, p, _s in m.distances)
        table.add_row(Text(m.name), Text(f"{m.loader} ({m.route_id})" + "".join(f" {k}={v}" for k, v in m.env)),
                      Text(f"{m.distance:g}"), Text(pins))
    out.print(table)
    for words in co.merged:
        out.print(Text(f"preference {words}", style="dim"))
    for name, smoke in result.smoke:
        out.print(Text(f"smoke test {smoke.status} for {name}: {smoke.reason}"))
    for path in result.files:
        out.print(Text(f"wrote {path}", style="green"))
    out.print(Text(f"done in {time.monotonic() - started:.1f}s", style="dim"))
    return 0
