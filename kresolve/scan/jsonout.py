"""scan.json (docs/scan-json.md) and the journal `--resume` continues from, written atomically."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import __version__
from .fleet import ModelRow, ScanResult

SCAN_JSON = "scan.json"
SCAN_HTML = "scan.html"
JOURNAL = "scan-journal.jsonl"


def scan_json(result: ScanResult) -> dict[str, Any]:
    return {
        "kresolve_scan": 1,
        "kresolve_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "complete": result.complete,
        "smoke": result.smoke,
        "policy": result.policy,
        "targets": list(result.targets),
        "seconds": round(result.seconds, 2),
        "summary": {
            "models": len(result.rows),
            "ok": sum(1 for r in result.rows if r.ok),
            "outcomes": result.counts(),
            "line": result.summary(),
        },
        "notes": list(result.notes),
        "models": [r.to_json() for r in result.rows],
        "environments": [p.to_json() for p in result.proposals],
    }


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


class Journal:
    """One JSON line per finished model after a header with the scan's options; flushed each time."""

    def __init__(self, path: Path, fingerprint: dict[str, Any], resume: bool):
        self.path = path
        self.fingerprint = fingerprint
        self.done: dict[str, ModelRow] = {}
        if resume:
            self.done = self._read()
        path.parent.mkdir(parents=True, exist_ok=True)
        existing = resume and path.stat().st_size > 0
        self._fh = path.open("a" if existing else "w", encoding="utf-8")
        if not existing:
            self._line({"kresolve_scan_journal": 1, "options": fingerprint})

    def _read(self) -> dict[str, ModelRow]:
        from ..errors import BadInput

        if not self.path.exists():
            raise BadInput(f"--resume: no journal at {self.path} (run the scan with the same -o first)")
        done: dict[str, ModelRow] = {}
        with self.path.open(encoding="utf-8") as fh:
            lines = fh.read().splitlines()
        if not lines:
            return done
        try:
            head = json.loads(lines[0])
        except json.JSONDecodeError:
            raise BadInput(f"{self.path}: not a kresolve scan journal") from None
        if head.get("options") != self.fingerprint:
            raise BadInput(f"--resume: {self.path} was written by a scan with other options "
                           f"({head.get('options')}); rerun without --resume to start over")
        for line in lines[1:]:
            try:
                row = ModelRow.from_json(json.loads(line))
            except (json.JSONDecodeError, KeyError, ValueError, TypeError):
                continue  # a line cut short by an interrupt: that model runs again
            done[row.path] = row
        return done

    def _line(self, data: dict[str, Any]) -> None:
        self._fh.write(json.dumps(data) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def add(self, row: ModelRow) -> None:
        self.done[row.path] = row
        self._line(row.to_json(with_lock=True))

    def close(self) -> None:
        self._fh.close()
