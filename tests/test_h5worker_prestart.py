"""`lock` starts the HDF5 reader process early for an HDF5 model (it imports h5py while the rules
load); starting it early changes nothing in what is read, and other paths start nothing."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES

from kresolve.artifact import h5worker

H5 = FIXTURES / "tf215-h5" / "model.h5"


def test_a_prestarted_worker_reads_the_same_metadata():
    h5worker._WORKER.stop()
    cold = h5worker.h5_metadata(H5)
    h5worker._WORKER.stop()
    h5worker.prestart_for(H5)
    assert h5worker._WORKER._proc is not None  # started before anything was asked
    h5worker.prestart_for(H5)  # a second call keeps the running worker
    assert h5worker.h5_metadata(H5) == cold


def test_other_paths_start_nothing(tmp_path: Path):
    h5worker._WORKER.stop()
    (tmp_path / "model.keras").write_bytes(b"PK\x03\x04 not hdf5")
    for path in (tmp_path / "model.keras", tmp_path, tmp_path / "missing.h5"):
        h5worker.prestart_for(path)
    assert h5worker._WORKER._proc is None


def test_a_polite_stop_ends_the_reader_cleanly():
    h5worker._WORKER.stop()
    assert h5worker.h5_metadata(H5)["attrs"]["keras_version"] == "2.15.0"
    assert h5worker._WORKER.stop() == 0  # end of input: the reader exits with status 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the process table from /proc")
def test_a_process_that_started_the_reader_leaves_none_behind():
    # Prestarted and never asked (a lock that stopped early): at exit the reader is ended and reaped.
    script = ("import sys\nfrom kresolve.artifact import h5worker\nh5worker.prestart_for(sys.argv[1])\n"
              "print(h5worker._WORKER._proc.pid)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(H5)], capture_output=True, text=True, check=True)
    status = Path(f"/proc/{int(proc.stdout)}/status")
    alive = status.exists() and "\nState:\tZ" not in status.read_text()
    assert not alive, "the HDF5 reader outlived its parent"
