"""httpx is imported without its async and command-line extras (index/client.load_httpx), and
nothing of that is left behind for the rest of the process."""

import os
import subprocess
import sys

SCRIPT = """
import importlib.util, sys
from kresolve.index.client import load_httpx
httpx = load_httpx()
assert load_httpx() is httpx
held = [m for m in ("trio", "anyio", "click") if m in sys.modules]
assert all(sys.modules[m] is not None for m in held), held  # no blocking entry stays
for name in ("trio", "anyio", "click"):
    if importlib.util.find_spec(name) is not None:
        __import__(name)  # still importable as usual afterwards
client = httpx.Client()
client.close()
print("ok", held)
"""


def testload_httpx_imports_alone_and_leaves_the_rest_importable():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "ok []"


def test_an_httpx_that_needs_its_extras_at_import_is_imported_with_them(tmp_path):
    # A stand-in httpx release whose import needs anyio: holding anyio off must not break kresolve.
    fake = tmp_path / "httpx"
    fake.mkdir()
    (fake / "__init__.py").write_text("import anyio\nNEEDS = anyio.__name__\n")
    script = ("from kresolve.index.client import load_httpx\n"
              "httpx = load_httpx()\n"
              f"print(httpx.__file__.startswith({str(tmp_path)!r}), httpx.NEEDS)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split() == ["True", "anyio"]
