"""`kresolve scan`: every model under the given paths against a policy and targets.

Discovery (as `inspect DIR` does) → one row per model (Evaluator: inspect + solve per target,
in this process, memoised) → with `smoke`, the host target's cells proved in parallel
(runner.LocalSmoke) → the set cover (cover.py) → scan.json, scan.html and, with formats, one
lock per proposed environment under `out_dir/envs/<n>/`. With a Dask scheduler, the rows are
computed on the cluster instead (runner.DaskRunner).

Every finished row goes to the journal in `out_dir` at once, so an interrupted scan keeps what
it finished (scan.json and scan.html are written, marked incomplete) and `resume=True`
continues from it, re-reading only models that are missing or changed since.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..artifact.discovery import find_models
from ..constants import SCAN_FORMATS
from ..errors import BadInput, ErrorKind, IndexUnavailable, KresolveError
from ..smoke.run import pins_in_lock
from ..target import make_target
from .cover import propose, serves
from .evaluate import Evaluator, ScanOptions, stamp, target_id
from .fleet import ModelRow, Outcome, Proposal, ScanResult
from .html import render
from .jsonout import JOURNAL, SCAN_HTML, SCAN_JSON, Journal, scan_json, write_atomic
from .runner import DaskRunner, LocalSmoke, SmokeJob, memory_jobs, smoke_job_for, with_proof

FORMATS = SCAN_FORMATS  # lock formats `scan --format` writes per proposed environment (in constants: the parser needs them)


class ScanInterrupted(KresolveError):
    """Ctrl-C: what finished is kept (scan.json marked incomplete, the journal for --resume)."""

    exit_code = 130
    error_kind = ErrorKind.INTERRUPTED


class Progress(Protocol):
    def start(self, total: int, done: int) -> None: ...

    def model_done(self, row: ModelRow) -> None: ...

    def env_built(self) -> None: ...


class _Quiet:
    def start(self, total: int, done: int) -> None:
        pass

    def model_done(self, row: ModelRow) -> None:
        pass

    def env_built(self) -> None:
        pass


@dataclass(frozen=True)
class Written:
    scan_json: Path
    scan_html: Path
    journal: Path
    locks: tuple[Path, ...]


def discover(paths: Sequence[str | Path]) -> tuple[list[str], list[str]]:
    """Model paths in order (duplicates once) and the discovery notes."""
    models: list[str] = []
    notes: list[str] = []
    for path in paths:
        found = find_models(path)
        for model in found.models:
            if str(model) not in models:
                models.append(str(model))
        notes += [f"{path}: {n}" for n in found.notes]
    return models, notes


def run_scan(paths: Sequence[str | Path], options: ScanOptions, out_dir: str | Path = ".", jobs: int = 1,
             resume: bool = False, scheduler: str | None = None, formats: Sequence[str] = (),
             progress: Progress | None = None) -> tuple[ScanResult, Written]:
    started = time.monotonic()
    progress = progress or _Quiet()
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise BadInput(f"--format {','.join(unknown)}: scan writes {', '.join(FORMATS)} locks per environment")
    models, notes = discover(paths)
    out = Path(out_dir)
    journal = Journal(out / JOURNAL, options.fingerprint(), resume)
    finished: dict[str, ModelRow] = {p: r for p, r in journal.done.items() if p in models and r.stamp == stamp(Path(p))}
    if finished:
        notes.append(f"resumed: {len(finished)} model(s) from {journal.path}")
    todo = [m for m in models if m not in finished]
    progress.start(len(models), len(finished))
    evaluator = Evaluator(options)
    interrupted = False
    failure: IndexUnavailable | None = None

    def finish(row: ModelRow) -> None:
        finished[row.path] = row
        journal.add(row)
        progress.model_done(row)

    try:
        if scheduler:
            runner = DaskRunner(scheduler)
            try:
                for row in runner.rows(todo, options):
                    finish(row)
            finally:
                runner.close()
        else:
            notes += _local(todo, options, evaluator, jobs, finish, progress)
    except KeyboardInterrupt:
        interrupted = True
    except IndexUnavailable as exc:  # the index went away: keep what finished, then exit 4
        failure = exc
    finally:
        evaluator.close()
        journal.close()
    rows = tuple(finished[m] for m in models if m in finished)
    targets = evaluator.targets
    ids = tuple(target_id(t) for t in targets)
    proposals = propose(rows, targets, ids)
    result = ScanResult(ids, evaluator.policy.name if evaluator.policy else None, rows, proposals, tuple(notes),
                        complete=not interrupted and not failure and len(rows) == len(models), smoke=options.smoke,
                        seconds=time.monotonic() - started)
    written = _write(result, out, formats)
    if failure is not None:
        raise IndexUnavailable(f"{failure} ({len(rows)} of {len(models)} models done, kept in {written.scan_json}; "
                               "rerun with --resume when the index answers)")
    if interrupted:
        raise ScanInterrupted(f"interrupted: {len(rows)} of {len(models)} models done, kept in {written.scan_json} "
                              f"and {written.journal}; rerun with --resume to continue")
    return result, written


def _local(todo: list[str], options: ScanOptions, evaluator: Evaluator, jobs: int, finish: Callable[[ModelRow], None],
           progress: Progress) -> list[str]:
    notes: list[str] = []
    host = evaluator.host_target()
    if options.smoke and host is None:
        notes.append("--smoke: no target is this host, so nothing could be smoke-tested here")
    pending: dict[str, tuple[ModelRow, SmokeJob]] = {}
    for path in todo:
        row = evaluator.row(path)
        cell = row.cell(host) if host else None
        if options.smoke and cell is not None and cell.outcome is Outcome.SOLVED:
            job = smoke_job_for(row, cell, options, evaluator)
            if isinstance(job, SmokeJob):
                pending[path] = (row, job)
                continue
            row = with_proof(row, cell.target, job)
        finish(row)
    if pending and host is not None:
        count, why = memory_jobs(jobs)
        if why:
            notes.append(why)
        pool = LocalSmoke(count, options.timeout, progress.env_built)
        for key, proof in pool.run((path, job) for path, (_row, job) in pending.items()):
            finish(with_proof(pending[str(key)][0], host, proof))
    return notes


def _write(result: ScanResult, out: Path, formats: Sequence[str]) -> Written:
    import json

    locks: list[Path] = []
    if "pip" in formats:
        for proposal in result.proposals:
            if proposal.lock:
                path = out / "envs" / str(proposal.number) / "requirements.txt"
                write_atomic(path, env_lock(proposal, result.rows))
                locks.append(path)
    json_path, html_path = out / SCAN_JSON, out / SCAN_HTML
    write_atomic(json_path, json.dumps(scan_json(result), indent=2) + "\n")
    write_atomic(html_path, render(result))
    return Written(json_path, html_path, out / JOURNAL, tuple(locks))


def env_lock(proposal: Proposal, rows: Sequence[ModelRow]) -> str:
    """The environment's lock with the models it serves (and each one's loader) in its header."""
    by_path = {r.path: r for r in rows}
    text = proposal.lock or ""
    python, _, platform = proposal.target.partition("/")
    target, pins = make_target(python, platform), pins_in_lock(text)
    lines = [f"# kresolve scan: environment {proposal.number} on {proposal.target} serves {len(proposal.models)} model(s):"]
    for model in proposal.models:
        plan = next((p for p in by_path[model].plans if serves(p, pins, target)), None) if model in by_path else None
        route = f"loader {plan.loader} (rule {plan.route})" if plan else "?"
        lines.append(f"#   {model}: {route}")
    head, sep, rest = text.partition("\n#\n#    ")
    return head + "\n" + "\n".join(lines) + (sep + rest if sep else "")
