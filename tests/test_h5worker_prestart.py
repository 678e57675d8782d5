"""`lock` starts the HDF5 reader process early for an HDF5 model (it imports h5py while the rules
load); starting it early changes nothing in what is read, and other paths start nothing."""

from pathlib import Path

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
