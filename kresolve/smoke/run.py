"""The smoke test: build the env from the lock, load the model in a subprocess, compare outputs.

One smoke run may try several loaders in the same environment (route fallback): the chosen
route first, then every other route the rules allow for the file whose requirements the locked
pins satisfy. Each attempt is its own subprocess (environment variables such as
TF_USE_LEGACY_KERAS must be set before TensorFlow is imported), with a time limit, an
address-space limit and, where the platform allows, no network.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from ..artifact.facts import ModelFacts
from ..index import IndexConfig
from ..lock.requirements_txt import locked_pins
from ..progress import Progress, Stage, stage, watch_bytes
from ..rules.db import Route
from ..target import Target, is_host
from .envs import EnvBuildError, build_env, env_key
from .status import SmokeStatus

LOADER_SCRIPT = Path(__file__).with_name("loader.py")
ATOL = RTOL = 1e-5
# (atol, rtol) per output dtype: |out - ref| <= atol + rtol * |ref|. float32/float64 keep the
# strict 1e-5. Half precision cannot meet it: one ulp at 1.0 is 2**-10 ≈ 9.8e-4 for float16 and
# 2**-7 ≈ 7.8e-3 for bfloat16, so allow ~10 ulps (float16) and ~6 ulps (bfloat16).
TOLERANCES: dict[str, tuple[float, float]] = {
    "float64": (1e-5, 1e-5),
    "float32": (1e-5, 1e-5),
    "float16": (1e-2, 1e-2),
    "bfloat16": (5e-2, 5e-2),
}
INTEGER_TOLERANCE = (0.0, 0.0)  # class ids, counts: exact
MEMORY_LIMIT = 16 * 2**30  # address space of the loader process (RLIMIT_AS); TF maps a lot it never touches
MEMORY_ENV = "KRESOLVE_SMOKE_MEMORY_GB"  # override, in GiB
MEMORY_SIGNS = ("MemoryError", "failed to map segment", "std::bad_alloc", "Cannot allocate memory")
CLOSED_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, so any proxied request fails fast
REPAIRED_NOTE = "loaded from a repaired copy: variables moved under variables/"


@dataclass(frozen=True)
class Attempt:
    """One way to load the model in the locked environment: a route's loader and env vars."""

    loader: str
    env: tuple[tuple[str, str], ...] = ()
    route_id: str | None = None


@dataclass(frozen=True)
class AttemptOutcome:
    loader: str
    route_id: str | None
    ok: bool
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class OutputDiff:
    index: int
    dtype: str
    max_abs_diff: float
    max_rel_diff: float  # over elements whose recorded value is not 0
    atol: float
    rtol: float
    ok: bool


@dataclass(frozen=True)
class SmokeResult:
    status: SmokeStatus
    reason: str
    loader: str  # the loader that proved it (or, on failure, the first one tried)
    env_dir: str | None = None
    env_reused: bool = False
    compared: bool = False  # reference outputs existed and were compared
    max_abs_diff: float | None = None
    seconds: float = 0.0
    versions: tuple[tuple[str, str], ...] = ()
    route_id: str | None = None
    attempts: tuple[AttemptOutcome, ...] = ()  # every loader tried, in order
    probe_rules: tuple[tuple[str, str], ...] = ()  # (input name, rule) of the probe fed
    outputs: tuple[OutputDiff, ...] = ()  # per-output comparison with the recording
    repaired: str | None = None  # what was repaired in a temporary copy of the model
    isolation: str = ""  # the limits the loader process ran under

    @property
    def passed(self) -> bool:
        return self.status is SmokeStatus.PASSED


def skip_reason(target: Target) -> str | None:
    if not is_host(target):
        return f"the target ({target.describe()}) is not this host, so the environment cannot run here"
    if target.gpu and target.platform.startswith("linux") and shutil.which("nvidia-smi") is None:
        return "the target is a GPU build and this host has no NVIDIA GPU (nvidia-smi not found)"
    return None


# ----------------------------------------------------------------------------- route fallback


def pins_in_lock(text: str) -> dict[str, str]:
    """name -> version of every pin of a requirements lock (the lock writer's own reader)."""
    return {str(canonicalize_name(pin.name)): pin.version for pin in locked_pins(text)}


def pinned_satisfies(req: Requirement, pins: dict[str, str]) -> bool:
    """Whether `pins` (name -> locked version) hold a version of `req`'s package inside its
    specifier; markers are the caller's business (no install needed)."""
    version = pins.get(canonicalize_name(req.name))
    if version is None:
        return False
    try:
        return req.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


def route_fits(route: Route, pins: dict[str, str]) -> bool:
    """Whether the locked pins satisfy every requirement of `route` (no install needed)."""
    return all(pinned_satisfies(req, pins) for req in route.requires)


def attempts_for(chosen: Attempt, routes: list[Route], pins: dict[str, str]) -> tuple[Attempt, ...]:
    """The chosen route first, then the other routes (rank order) that the same env can serve."""
    pins = {str(canonicalize_name(name)): version for name, version in pins.items()}
    found = [chosen]
    for route in routes:
        if route.id == chosen.route_id:
            continue
        attempt = Attempt(route.loader, tuple(sorted(route.env)), route.id)
        if route_fits(route, pins) and all((a.loader, a.env) != (attempt.loader, attempt.env) for a in found):
            found.append(attempt)
    return tuple(found)


# ----------------------------------------------------------------------------- layout repair


def misplaced_variables(model: Path) -> list[Path]:
    """A SavedModel whose checkpoint files sit next to saved_model.pb instead of under variables/."""
    if not model.is_dir() or not ((model / "saved_model.pb").is_file() or (model / "saved_model.pbtxt").is_file()):
        return []
    if (model / "variables" / "variables.index").is_file():
        return []
    index = model / "variables.index"
    if not index.is_file():
        return []
    return [index, *sorted(model.glob("variables.data-*"))]


def repaired_copy(model: Path, files: list[Path], into: Path) -> Path:
    """Copy the SavedModel into `into` with `files` moved under variables/ (the user's files untouched)."""
    copy = into / model.name
    moved = {f.name for f in files}
    shutil.copytree(model, copy, ignore=lambda d, names: [n for n in names if Path(d) == model and n in moved])
    (copy / "variables").mkdir(exist_ok=True)
    for f in files:
        shutil.copy2(f, copy / "variables" / f.name)
    return copy


# ----------------------------------------------------------------------------- comparison


def tolerance(dtype: str) -> tuple[float, float]:
    if dtype in TOLERANCES:
        return TOLERANCES[dtype]
    if dtype.startswith(("int", "uint", "bool")):
        return INTEGER_TOLERANCE
    return ATOL, RTOL


def _flatten(value: Any) -> list[float]:  # nested lists of numbers, as JSON gives them
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flatten(v)]
    return [float(value)]


def compare_outputs(reference: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> tuple[list[OutputDiff], str | None]:
    """Per-output max abs/rel diff against the recording; the second item names a structural mismatch."""
    if len(reference) != len(outputs):
        return [], f"the model gave {len(outputs)} outputs, the recording has {len(reference)}"
    diffs: list[OutputDiff] = []
    for i, (ref, out) in enumerate(zip(reference, outputs)):
        if list(ref["shape"]) != list(out["shape"]):
            return diffs, f"output {i} has shape {out['shape']}, the recording {ref['shape']}"
        dtype = str(ref.get("dtype") or out.get("dtype") or "float32")
        atol, rtol = tolerance(dtype)
        worst_abs = worst_rel = 0.0
        ok = True
        for a, b in zip(_flatten(out["data"]), _flatten(ref["data"])):
            diff = abs(a - b)
            if math.isnan(diff):  # NaN on either side
                diff = math.inf
            worst_abs = max(worst_abs, diff)
            if b != 0:
                worst_rel = max(worst_rel, diff / abs(b))
            ok = ok and diff <= atol + rtol * abs(b)
        diffs.append(OutputDiff(i, dtype, worst_abs, worst_rel, atol, rtol, ok))
    return diffs, None


def compare(reference: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> tuple[bool, float, str]:
    """(equal within tolerance, max |diff|, words)."""
    diffs, mismatch = compare_outputs(reference, outputs)
    if mismatch:
        return False, math.inf, mismatch
    worst = max((d.max_abs_diff for d in diffs), default=0.0)
    bad = next((d for d in diffs if not d.ok), None)
    if bad is not None:
        return False, worst, (f"output {bad.index} differs from the recording by {bad.max_abs_diff:.3g}"
                              f" (max rel {bad.max_rel_diff:.3g}; {bad.dtype} tolerance {bad.atol:g} + {bad.rtol:g}·|x|)")
    return True, worst, f"outputs match the recording (max |diff| {worst:.3g})"


# ----------------------------------------------------------------------------- isolation


def memory_limit() -> int:
    try:
        return int(float(os.environ[MEMORY_ENV]) * 2**30)
    except (KeyError, ValueError):
        return MEMORY_LIMIT


def _limit_memory(limit: int) -> None:  # runs in the child between fork and exec
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


@functools.lru_cache(maxsize=1)
def no_network_prefix() -> tuple[str, ...]:
    """A command prefix that gives the loader its own, empty network namespace, where that works here."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return ()
    for prefix in (("unshare", "--net"), ("unshare", "--user", "--map-root-user", "--net")):
        try:
            if subprocess.run([*prefix, "true"], check=False, capture_output=True, timeout=10).returncode == 0:
                return prefix
        except (OSError, subprocess.TimeoutExpired):
            continue
    return ()


def _isolation(run_env: dict[str, str]) -> tuple[list[str], Callable[[], None] | None, str]:
    """(command prefix, preexec_fn, words) for the loader process; sets proxy vars when no netns."""
    words = []
    preexec: Callable[[], None] | None = None
    if os.name == "posix":
        limit = memory_limit()
        preexec = functools.partial(_limit_memory, limit)
        words.append(f"address space limited to {limit / 2**30:g} GiB (RLIMIT_AS)")
    else:  # Windows: no rlimit; a job object would be needed, which the standard library lacks
        words.append("no memory limit (not available on this platform)")
    prefix = list(no_network_prefix())
    if prefix:
        words.append(f"no network (own network namespace: {' '.join(prefix)})")
    else:
        for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            run_env[var] = CLOSED_PROXY
        run_env.pop("no_proxy", None)
        run_env.pop("NO_PROXY", None)
        words.append(f"network not isolated here; HTTP(S) proxies point at the closed port {CLOSED_PROXY}")
    return prefix, preexec, "; ".join(words)


# ----------------------------------------------------------------------------- the smoke test


def _request(facts: ModelFacts, model: Path, attempt: Attempt, trust: bool, modules: Sequence[str],
             paths: Sequence[str]) -> dict[str, Any]:
    probe = facts.sidecar.probe if facts.sidecar else None
    architecture = getattr(facts, "architecture", None)
    return {
        "model": str(model),
        "loader": attempt.loader,
        "architecture": str(Path(architecture).resolve()) if architecture else None,
        "trust": trust,
        "paths": [str(Path(p).resolve()) for p in paths],
        "modules": list(modules),
        "custom_objects": dict(facts.sidecar.custom_objects) if facts.sidecar else {},
        "probe_inputs": [{"dtype": t.dtype, "data": t.data} for t in probe.inputs] if probe else None,
    }


def _run_attempt(python: Path, request: dict[str, Any], env_vars: dict[str, str], timeout: float, tmp: Path) -> tuple[dict[str, Any] | None, str | None, str]:
    """(result JSON, why it gave none, isolation words)."""
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "TF_USE_LEGACY"))}
    run_env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": run_env.get("CUDA_VISIBLE_DEVICES", "")})
    run_env.update(env_vars)
    prefix, preexec, isolation = _isolation(run_env)
    req_path, res_path = tmp / "request.json", tmp / "result.json"
    res_path.unlink(missing_ok=True)
    req_path.write_text(json.dumps(request))
    try:
        proc = subprocess.run(
            [*prefix, str(python), "-I", str(LOADER_SCRIPT), str(req_path), str(res_path)],
            check=False, cwd=tmp, env=run_env, capture_output=True, timeout=timeout, preexec_fn=preexec,
        )
    except subprocess.TimeoutExpired:
        return None, f"loading did not finish within {timeout:.0f}s", isolation
    if not res_path.exists():
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        return None, f"the loader process died (exit {proc.returncode}): {tail[0]}", isolation
    return json.loads(res_path.read_text("utf-8")), None, isolation


# (error text, installed versions) -> the known causes in words, "" for none: the caller's rules
# (diagnose.KnownCauses), so the smoke test never reads the rules itself.
Diagnoser = Callable[[str, Mapping[str, str]], str]


def _explain_failure(why: str, result: dict[str, Any] | None, facts: ModelFacts, modules: Sequence[str],
                     env_path: Path, diagnoser: Diagnoser | None) -> str:
    missing = [c.registered_name or c.class_name for c in facts.custom_objects]
    if missing and not modules:
        why += (f" — the model uses custom objects ({', '.join(missing)}) whose code was not provided:"
                " pass --custom-objects MODULE (importable from --code-path, default the current directory)"
                " or --requirement PACKAGE that defines them")
    if result is not None and diagnoser is not None:
        known = diagnoser(result.get("traceback") or result["error"], _installed(env_path))
        if known:
            why += " — " + known.replace("\n", " — ")
    return why


def smoke_test(
    facts: ModelFacts,
    lock: Path,
    attempts: tuple[Attempt, ...],
    target: Target,
    index: IndexConfig,
    envs_root: Path,
    trust: bool = False,
    modules: tuple[str, ...] = (),
    paths: tuple[str, ...] = (),
    timeout: float = 600.0,
    progress: Progress | None = None,
    diagnoser: Diagnoser | None = None,
) -> SmokeResult:
    """Load and predict with each attempt in turn until one works; compare with the recording.
    `progress`: where the environment build (bytes written) and each load are shown (None: silent);
    `diagnoser`: the known causes of a load error (the caller's rules; None: the error alone)."""
    if not attempts:
        raise ValueError("smoke_test needs at least one loader attempt")
    start = time.monotonic()
    first = attempts[0]
    why_skip = skip_reason(target)
    if why_skip:
        return SmokeResult(SmokeStatus.SKIPPED, why_skip, first.loader, route_id=first.route_id)
    if facts.lambda_layers and not trust:
        return SmokeResult(SmokeStatus.SKIPPED, "the model has Lambda layers (code stored in the file); rerun with --trust-model to load it",
                           first.loader, route_id=first.route_id)
    try:
        built = envs_root / env_key(lock.read_text("utf-8"), f"{sys.version_info.major}.{sys.version_info.minor}")
        with stage(progress, Stage.BUILD_ENV), watch_bytes(progress, built):
            env = build_env(lock, envs_root, index)
    except EnvBuildError as exc:
        return SmokeResult(SmokeStatus.FAILED, f"could not build the environment from the lock: {exc}", first.loader,
                           route_id=first.route_id, seconds=time.monotonic() - start)

    base = {"env": str(env.path), "reused": env.reused, "start": start}
    model = Path(facts.path).resolve()
    outcomes: list[AttemptOutcome] = []
    with tempfile.TemporaryDirectory(prefix="kresolve-smoke-") as tmp_name:
        tmp = Path(tmp_name)
        misplaced = misplaced_variables(model)
        repaired = None
        if misplaced:
            model = repaired_copy(model, misplaced, tmp / "repaired")
            repaired = REPAIRED_NOTE
        for attempt in attempts:
            began = time.monotonic()
            with stage(progress, Stage.LOAD_MODEL, f"with {attempt.loader}"):
                result, died, isolation = _run_attempt(env.python, _request(facts, model, attempt, trust, modules, paths),
                                                       dict(attempt.env), timeout, tmp)
            seconds = round(time.monotonic() - began, 2)
            if result is not None and result["ok"]:
                outcomes.append(AttemptOutcome(attempt.loader, attempt.route_id, True, None, seconds))
                return _judge(facts, result, attempt, tuple(outcomes), repaired, isolation, base)
            error = died or f"{attempt.loader} could not load the model: {result['error']}"  # type: ignore[index]
            if any(sign in error for sign in MEMORY_SIGNS):
                error += f" (the loader process may use {memory_limit() / 2**30:g} GiB of address space; set {MEMORY_ENV} to raise it)"
            outcomes.append(AttemptOutcome(attempt.loader, attempt.route_id, False, error, seconds))
            if died and died.startswith("loading did not finish"):
                break  # another loader would wait as long again
    last_error = outcomes[-1].error or ""
    why = _explain_failure(last_error, result, facts, modules, env.path, diagnoser)
    if len(outcomes) > 1:
        why = f"no loader worked ({', '.join(o.loader for o in outcomes)}); first: {outcomes[0].error}; last: {why}"
    return _result(SmokeStatus.FAILED, why, first, base, attempts=tuple(outcomes), repaired=repaired, isolation=isolation,
                   versions=tuple(sorted((result or {}).get("versions", {}).items())))


def _judge(facts: ModelFacts, result: dict[str, Any], attempt: Attempt, outcomes: tuple[AttemptOutcome, ...],
           repaired: str | None, isolation: str, base: dict[str, Any]) -> SmokeResult:
    versions = tuple(sorted(result.get("versions", {}).items()))
    rules = tuple((str(n), str(r)) for n, r in result.get("probe_rules", []))
    repaired = "; ".join(filter(None, (repaired, result.get("repaired")))) or None  # the loader's own repair too
    if isinstance(result.get("peak_rss_kib"), int):  # how close the loader came to the limit
        isolation += f"; peak resident memory {result['peak_rss_kib'] / 1024:.0f} MiB"
    common: dict[str, Any] = {"attempts": outcomes, "repaired": repaired, "isolation": isolation, "versions": versions, "probe_rules": rules}
    via = "" if len(outcomes) == 1 else f" (proved by {attempt.loader} after {len(outcomes) - 1} failed loader(s))"
    outputs = result["outputs"]
    if not all(math.isfinite(x) for o in outputs for x in _flatten(o["data"])):
        return _result(SmokeStatus.FAILED, "the model loaded but predicted non-finite values" + via, attempt, base, **common)
    probe = facts.sidecar.probe if facts.sidecar else None
    if probe is None:
        return _result(
            SmokeStatus.PASSED,
            "loaded and predicted finite outputs on a generated probe (no recorded outputs, so equivalence is not proven)" + via,
            attempt, base, **common,
        )
    reference = [{"shape": list(t.shape), "dtype": t.dtype, "data": t.data} for t in probe.outputs]
    equal, worst, words = compare(reference, outputs)
    diffs, _ = compare_outputs(reference, outputs)
    return _result(SmokeStatus.PASSED if equal else SmokeStatus.FAILED, words + via, attempt, base, compared=True, worst=worst,
                   diffs=tuple(diffs), **common)


def _installed(env_path: Path) -> dict[str, str]:
    """Exact versions in the smoke env, from its lock (what `diagnose` checks causes against)."""
    lock = env_path / "requirements.lock.txt"
    return pins_in_lock(lock.read_text("utf-8")) if lock.exists() else {}


def _result(status: SmokeStatus, reason: str, attempt: Attempt, base: dict[str, Any], compared: bool = False,
            worst: float | None = None, versions: tuple[tuple[str, str], ...] = (),
            attempts: tuple[AttemptOutcome, ...] = (), probe_rules: tuple[tuple[str, str], ...] = (),
            diffs: tuple[OutputDiff, ...] = (), repaired: str | None = None, isolation: str = "") -> SmokeResult:
    return SmokeResult(
        status=status,
        reason=reason,
        loader=attempt.loader,
        env_dir=base["env"],
        env_reused=base["reused"],
        compared=compared,
        max_abs_diff=worst,
        seconds=round(time.monotonic() - base["start"], 2),
        versions=versions,
        route_id=attempt.route_id,
        attempts=attempts,
        probe_rules=probe_rules,
        outputs=diffs,
        repaired=repaired,
        isolation=isolation,
    )
