"""Lock output is all-or-nothing, and the requirements file is what pip accepts."""

import subprocess
import sys

import pytest
from localindex import make_wheel, write_simple_index

from kresolve.artifact.facts import ModelFacts, ModelFormat
from kresolve.index import Index, IndexConfig
from kresolve.lock import requirements_txt
from kresolve.lock.output import Staging
from kresolve.rules.db import load_rules
from kresolve.rules.plan import plans_for
from kresolve.solve.resolve import solve
from kresolve.target import make_target


def test_staging_leaves_existing_files_untouched_until_commit(tmp_path):
    (tmp_path / "requirements.txt").write_text("old\n")
    staging = Staging(tmp_path)
    staging.write("requirements.txt", "new\n")
    assert (tmp_path / "requirements.txt").read_text() == "old\n"
    staging.discard()
    assert (tmp_path / "requirements.txt").read_text() == "old\n"
    assert not list(tmp_path.glob(".kresolve-staging-*"))
    staging = Staging(tmp_path)
    staging.write("requirements.txt", "new\n")
    staging.commit()
    assert (tmp_path / "requirements.txt").read_text() == "new\n"


def test_a_crashed_run_leaves_no_partial_lock_and_is_cleaned_next_time(tmp_path):
    staging = Staging(tmp_path)
    staging.write("requirements.txt", "half")
    # (no commit: as if the process died) → nothing visible, and the next run sweeps it
    assert not (tmp_path / "requirements.txt").exists()
    Staging(tmp_path).discard()
    assert not list(tmp_path.glob(".kresolve-staging-*"))


ROUTE = """
[[route]]
id = "route-h5-keras2-tf.keras"
format = "keras-h5"
writer_keras = ">=2.0,<3"
rank = 10
loader = "tf.keras"
requires = ["tensorflow<2.16"]
reason = "test route"
source = "test:tests/test_lock_output.py"
"""


@pytest.fixture
def small_env(tmp_path, cache):
    files = tmp_path / "repo" / "files"
    make_wheel(files, "tensorflow", "2.15.1", requires=["numpy>=1.2"])
    make_wheel(files, "numpy", "1.26.4")
    write_simple_index(tmp_path / "repo")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "route.toml").write_text(ROUTE)
    rules = load_rules(tmp_path / "rules")
    index = Index(IndexConfig((tmp_path / "repo" / "simple").as_uri()), cache)
    facts = ModelFacts(path="m.h5", format=ModelFormat.H5, format_detail="", keras_version="2.15.0")
    env = solve(plans_for(facts, rules)[:1], make_target("3.11", "linux-64"), index, rules)
    return env, tmp_path / "repo"


def test_requirements_txt_pins_hashes_and_via(small_env):
    env, _ = small_env
    text = requirements_txt.render(env, "m.h5", "kresolve lock m.h5", "0")
    assert "tensorflow==2.15.1 \\\n    --hash=sha256:" in text
    assert "numpy==1.26.4 \\\n    --hash=sha256:" in text
    assert "    # via tensorflow" in text
    assert "# via kresolve route route-h5-keras2-tf.keras" in text
    assert "--only-binary :all:" in text


def test_pip_installs_the_lock_with_require_hashes(small_env, tmp_path):
    env, repo = small_env
    lock = tmp_path / "requirements.txt"
    lock.write_text(requirements_txt.render(env, "m.h5", "kresolve lock m.h5", "0"))
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--require-hashes", "--no-deps", "--no-index",
           "--find-links", str(repo / "files"), "-r", str(lock)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Would install numpy-1.26.4 tensorflow-2.15.1" in proc.stdout
    # A tampered hash is refused by pip: the hashes are really checked.
    bad = lock.read_text()
    first = bad.index("--hash=sha256:") + len("--hash=sha256:")
    lock.write_text(bad[:first] + ("0" if bad[first] != "0" else "1") + bad[first + 1 :])
    assert subprocess.run(cmd, capture_output=True, text=True, check=False).returncode != 0


def test_the_lock_header_carries_loader_and_env_vars_back(small_env):
    from dataclasses import replace

    env, _ = small_env
    route = replace(env.plan.route, loader="tf_keras", env=(("TF_USE_LEGACY_KERAS", "1"),))
    text = requirements_txt.render(replace(env, plan=replace(env.plan, route=route)), "m.h5", "kresolve lock m.h5", "0")
    assert requirements_txt.read_header(text) == ("tf_keras", {"TF_USE_LEGACY_KERAS": "1"})
    assert requirements_txt.read_header("numpy==1.0\n# loader: keras\n") == (None, {})
    assert requirements_txt.read_route(text) == route.id
    assert requirements_txt.read_route("numpy==1.0\n# loader: keras (rule r)\n") is None


def test_lock_never_replaces_a_file_it_did_not_write(tmp_path):
    """`./requirements.txt` is often the user's own (and the evidence kresolve reads): `lock`
    refuses before any work, exit 2, one line, and leaves every file as it was; a lock kresolve
    wrote itself is replaced as before."""
    import subprocess
    import sys

    from conftest import FIXTURES

    from kresolve.lock.output import refuse_foreign

    mine = "tensorflow==2.15.1\nnumpy<2\n"
    (tmp_path / "requirements.txt").write_text(mine)
    env = {"PATH": "", "KRESOLVE_CACHE_DIR": str(tmp_path / "cache"), "PIP_INDEX_URL": "http://127.0.0.1:9/simple"}
    proc = subprocess.run([sys.executable, "-m", "kresolve", "lock", str(FIXTURES / "tf215-h5" / "model.h5"), "--no-smoke"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "requirements.txt exists and was not written by kresolve" in proc.stderr
    assert "-o DIR" in proc.stderr and "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert (tmp_path / "requirements.txt").read_text() == mine
    assert sorted(p.name for p in tmp_path.iterdir()) == ["requirements.txt"]  # nothing else written, no cache

    (tmp_path / "requirements.txt").write_text(f"#\n{requirements_txt.OWN_MARKER} 0.1.0 for Python 3.11\nx==1\n")
    refuse_foreign(tmp_path, {"requirements.txt": requirements_txt.OWN_MARKER})  # its own: no complaint
