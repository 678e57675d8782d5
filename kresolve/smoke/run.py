"""The smoke test: build the env from the lock, load the model in a subprocess, compare outputs."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..artifact.facts import ModelFacts
from ..index import IndexConfig
from ..target import Target, is_host
from ..diagnose import diagnose, render_diagnoses
from ..rules.db import load_rules
from .envs import EnvBuildError, build_env

LOADER_SCRIPT = Path(__file__).with_name("loader.py")
ATOL = RTOL = 1e-5


@dataclass(frozen=True)
class SmokeResult:
    status: str  # "passed", "failed", "skipped"
    reason: str
    loader: str
    env_dir: str | None = None
    env_reused: bool = False
    compared: bool = False  # reference outputs existed and were compared
    max_abs_diff: float | None = None
    seconds: float = 0.0
    versions: tuple[tuple[str, str], ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def skip_reason(target: Target) -> str | None:
    if not is_host(target):
        return f"the target ({target.describe()}) is not this host, so the environment cannot run here"
    if target.gpu and target.platform.startswith("linux") and shutil.which("nvidia-smi") is None:
        return "the target is a GPU build and this host has no NVIDIA GPU (nvidia-smi not found)"
    return None


def _flatten(value) -> list[float]:
    if isinstance(value, (list, tuple)):
        return [x for v in value for x in _flatten(v)]
    return [float(value)]


def compare(reference: list[dict], outputs: list[dict]) -> tuple[bool, float, str]:
    """(equal within tolerance, max |diff|, words)."""
    if len(reference) != len(outputs):
        return False, math.inf, f"the model gave {len(outputs)} outputs, the recording has {len(reference)}"
    worst = 0.0
    for i, (ref, out) in enumerate(zip(reference, outputs)):
        if list(ref["shape"]) != list(out["shape"]):
            return False, math.inf, f"output {i} has shape {out['shape']}, the recording {ref['shape']}"
        for a, b in zip(_flatten(out["data"]), _flatten(ref["data"])):
            diff = abs(a - b)
            if not diff <= ATOL + RTOL * abs(b):  # also catches NaN
                worst = max(worst, diff if diff == diff else math.inf)
                return False, worst, f"output {i} differs from the recording by {diff:.3g} (tolerance {ATOL:g} + {RTOL:g}·|x|)"
            worst = max(worst, diff)
    return True, worst, f"outputs match the recording (max |diff| {worst:.3g})"


def smoke_test(
    facts: ModelFacts,
    lock: Path,
    loader: str,
    env_vars: dict[str, str],
    target: Target,
    index: IndexConfig,
    envs_root: Path,
    trust: bool = False,
    modules: tuple[str, ...] = (),
    paths: tuple[str, ...] = (),
    timeout: float = 600.0,
) -> SmokeResult:
    start = time.monotonic()
    why_skip = skip_reason(target)
    if why_skip:
        return SmokeResult("skipped", why_skip, loader)
    if facts.lambda_layers and not trust:
        return SmokeResult("skipped", "the model has Lambda layers (code stored in the file); rerun with --trust-model to load it", loader)
    try:
        env = build_env(lock, envs_root, index)
    except EnvBuildError as exc:
        return SmokeResult("failed", f"could not build the environment from the lock: {exc}", loader, seconds=time.monotonic() - start)

    probe = facts.sidecar.probe if facts.sidecar else None
    customs = dict(facts.sidecar.custom_objects) if facts.sidecar else {}
    request = {
        "model": str(Path(facts.path).resolve()),
        "loader": loader,
        "trust": trust,
        "paths": [str(Path(p).resolve()) for p in paths],
        "modules": list(modules),
        "custom_objects": customs,
        "probe_inputs": [{"dtype": t.dtype, "data": t.data} for t in probe.inputs] if probe else None,
    }
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "TF_USE_LEGACY"))}
    run_env.update({"TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": run_env.get("CUDA_VISIBLE_DEVICES", "")})
    run_env.update(env_vars)
    with tempfile.TemporaryDirectory(prefix="kresolve-smoke-") as tmp:
        req_path, res_path = Path(tmp) / "request.json", Path(tmp) / "result.json"
        req_path.write_text(json.dumps(request))
        try:
            proc = subprocess.run(
                [str(env.python), "-I", str(LOADER_SCRIPT), str(req_path), str(res_path)],
                cwd=tmp,
                env=run_env,
                capture_output=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return _result("failed", f"loading did not finish within {timeout:.0f}s", loader, env, start)
        if not res_path.exists():
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            return _result("failed", f"the loader process died (exit {proc.returncode}): {tail[0]}", loader, env, start)
        result = json.loads(res_path.read_text("utf-8"))
    versions = tuple(sorted(result.get("versions", {}).items()))
    if not result["ok"]:
        why = f"{loader} could not load the model: {result['error']}"
        missing = [c.registered_name or c.class_name for c in facts.custom_objects]
        if missing and not modules:
            why += (f" — the model uses custom objects ({', '.join(missing)}) whose code was not provided:"
                    " pass --custom-objects MODULE (importable from --code-path, default the current directory)"
                    " or --requirement PACKAGE that defines them")
        known = render_diagnoses(diagnose(result.get("traceback") or result["error"], load_rules(), _installed(env.path)), limit=2)
        if known:
            why += " — " + known.replace("\n", " — ")
        return _result("failed", why, loader, env, start, versions=versions)
    outputs = result["outputs"]
    if not all(math.isfinite(x) for o in outputs for x in _flatten(o["data"])):
        return _result("failed", "the model loaded but predicted non-finite values", loader, env, start, versions=versions)
    if probe is None:
        return _result(
            "passed",
            "loaded and predicted finite outputs on a generated probe (no recorded outputs, so equivalence is not proven)",
            loader, env, start, versions=versions,
        )
    reference = [{"shape": list(t.shape), "data": t.data} for t in probe.outputs]
    equal, worst, words = compare(reference, outputs)
    return _result("passed" if equal else "failed", words, loader, env, start, compared=True, worst=worst, versions=versions)


def _installed(env_path: Path) -> dict[str, str]:
    """Exact versions in the smoke env, from its lock (what `diagnose` checks causes against)."""
    found = {}
    lock = env_path / "requirements.lock.txt"
    for line in lock.read_text("utf-8").splitlines() if lock.exists() else ():
        name, sep, version = line.split(" ")[0].partition("==")
        if sep:
            found[name] = version
    return found


def _result(status, reason, loader, env, start, compared=False, worst=None, versions=()) -> SmokeResult:
    return SmokeResult(
        status=status,
        reason=reason,
        loader=loader,
        env_dir=str(env.path),
        env_reused=env.reused,
        compared=compared,
        max_abs_diff=worst,
        seconds=round(time.monotonic() - start, 2),
        versions=versions,
    )
