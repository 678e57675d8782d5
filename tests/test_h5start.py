"""The launcher `python -m kresolve` uses to start the HDF5 reader before kresolve imports: the
reader it starts is the one h5worker would start, adopted when first asked."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES

from kresolve import _h5start
from kresolve.artifact import h5meta, h5worker

H5 = FIXTURES / "tf215-h5" / "model.h5"


def test_a_reader_started_by_the_launcher_is_adopted_and_reads_the_same():
    h5worker._WORKER.stop()
    expected = h5worker.h5_metadata(H5)
    h5worker._WORKER.stop()
    _h5start.prestart_for(H5)
    assert _h5start.started()
    _h5start.prestart_for(H5)  # a second call starts no second reader
    assert h5worker.h5_metadata(H5) == expected
    assert not _h5start.started()  # handed over: h5worker owns it now
    assert h5worker._WORKER.stop() == 0


def test_a_prestart_after_the_launcher_adopts_its_reader():
    h5worker._WORKER.stop()
    _h5start.prestart_for(H5)
    h5worker.prestart_for(H5)
    assert not _h5start.started() and h5worker._WORKER._proc is not None
    assert h5worker.h5_metadata(H5)["attrs"]["keras_version"] == "2.15.0"


def test_the_launcher_runs_the_reader_h5worker_runs():
    assert Path(_h5start.H5META) == Path(h5meta.__file__)


def test_other_paths_start_nothing(tmp_path: Path):
    (tmp_path / "model.keras").write_bytes(b"PK\x03\x04 not hdf5")
    for path in (tmp_path / "model.keras", tmp_path, tmp_path / "missing.h5", "--offline", "linux-64"):
        _h5start.prestart_for(path)
    assert not _h5start.started()


def test_the_launcher_imports_nothing_of_kresolve_but_itself():
    script = "import sys, kresolve._h5start\nprint(sorted(m for m in sys.modules if m.startswith('kresolve')))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['kresolve', 'kresolve._h5start']"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the process table from /proc")
def test_a_reader_nobody_asked_is_ended_at_exit():
    script = ("import sys\nfrom kresolve import _h5start\n_h5start.prestart_for(sys.argv[1])\n"
              "print(_h5start._started.pid)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(H5)], capture_output=True, text=True, check=True)
    status = Path(f"/proc/{int(proc.stdout)}/status")
    alive = status.exists() and "\nState:\tZ" not in status.read_text()
    assert not alive, "the HDF5 reader outlived its parent"
