"""A real simple-index served from 127.0.0.1: small wheels built on the fly, Range support,
and faults (HTTP 500) switched on per path — for tests that must not depend on PyPI."""

from __future__ import annotations

import base64
import hashlib
import http.server
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path


def make_wheel(dest: Path, name: str, version: str, requires: list[str] = (), requires_python: str | None = None,
               tag: str = "py3-none-any", extras: dict[str, list[str]] | None = None,
               date_time: tuple[int, int, int, int, int, int] | None = None) -> Path:
    """A real, installable wheel with the given metadata (no code besides an empty module)."""
    dist = name.replace("-", "_")
    filename = f"{dist}-{version}-{tag}.whl"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        meta.append(f"Requires-Python: {requires_python}")
    meta += [f"Requires-Dist: {r}" for r in requires]
    for extra, reqs in (extras or {}).items():
        meta.append(f"Provides-Extra: {extra}")
        meta += [f"Requires-Dist: {r} ; extra == '{extra}'" for r in reqs]
    files = {
        f"{dist}/__init__.py": b"",
        f"{dist}-{version}.dist-info/METADATA": ("\n".join(meta) + "\n").encode(),
        f"{dist}-{version}.dist-info/WHEEL": f"Wheel-Version: 1.0\nGenerator: kresolve-tests\nRoot-Is-Purelib: true\nTag: {tag}\n".encode(),
    }
    record_path = f"{dist}-{version}.dist-info/RECORD"
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{record_path},,")
    files[record_path] = ("\n".join(record) + "\n").encode()
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest / filename, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():
            # date_time: the members' timestamps (what kresolve reads as the release date)
            zf.writestr(zipfile.ZipInfo(path, date_time) if date_time else path, data)
    return dest / filename


def write_simple_index(root: Path, base_url: str = "../../files/", without_hash: frozenset[str] = frozenset()) -> None:
    """`root/files/*.whl` → `root/simple/<project>/index.html` with sha256 fragments, except for
    the file names in `without_hash` (an index that lists a file without its hash)."""
    projects: dict[str, list[Path]] = {}
    for wheel in sorted((root / "files").glob("*.whl")):
        project = wheel.name.split("-")[0].replace("_", "-").lower()
        projects.setdefault(project, []).append(wheel)
    for project, wheels in projects.items():
        page = root / "simple" / project
        page.mkdir(parents=True, exist_ok=True)
        links = []
        for w in wheels:
            digest = hashlib.sha256(w.read_bytes()).hexdigest()
            fragment = "" if w.name in without_hash else f"#sha256={digest}"
            links.append(f'<a href="{base_url}{w.name}{fragment}">{w.name}</a><br/>')
        (page / "index.html").write_text("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")


@dataclass
class Faults:
    status_for: dict[str, int] = field(default_factory=dict)  # path substring -> HTTP status
    ignore_range: bool = False
    hits: list[str] = field(default_factory=list)
    # Hold every response until `release` is set (or HOLD_LIMIT passes); `received` is set when
    # a request arrives: a request in flight, for as long as a test needs one.
    hold: bool = False
    received: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


HOLD_LIMIT = 3.0  # seconds a held response waits at most, so a test can never hang on it


def serve(root: Path) -> tuple[str, Faults, http.server.ThreadingHTTPServer]:
    faults = Faults()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            pass

        def do_GET(self):
            faults.hits.append(self.path)
            if faults.hold:
                faults.received.set()
                faults.release.wait(HOLD_LIMIT)
            for part, status in faults.status_for.items():
                if part in self.path:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            path = root / self.path.lstrip("/").split("?")[0]
            if path.is_dir():
                path = path / "index.html"
            if not path.is_file():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = path.read_bytes()
            rng = self.headers.get("Range")
            if rng and not faults.ignore_range:
                spec = rng.split("=", 1)[1]
                start_s, _, end_s = spec.partition("-")
                if start_s == "":
                    start, end = max(0, len(data) - int(end_s)), len(data) - 1
                else:
                    start, end = int(start_s), min(int(end_s) if end_s else len(data) - 1, len(data) - 1)
                body = data[start : end + 1]
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            else:
                body = data
                self.send_response(200)
            self.send_header("Content-Type", "text/html" if path.suffix == ".html" else "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", faults, server
