"""A local PEP 503 index of real-format wheels for the TensorFlow/Keras lines the fixtures were
written with (TF 2.12/2.15 with Keras 2, TF 2.17-2.21 with Keras 3, tf-keras), so scans and
co-resolves of the real fixture models run offline against the real rules DB."""

from __future__ import annotations

from pathlib import Path

from localindex import make_wheel, write_simple_index

LINUX = "cp311-cp311-manylinux_2_17_x86_64"
LINUX312 = "cp312-cp312-manylinux_2_17_x86_64"


def build_world(root: Path) -> str:
    """Write the wheels and the simple index under `root`; returns the index URL."""
    files = root / "files"
    tf2 = ["numpy>=1.23.5,<2", "h5py>=2.9", "protobuf>=3.20.3"]
    make_wheel(files, "tensorflow", "2.12.1", requires=["numpy>=1.22,<1.24", "keras>=2.12,<2.13", "h5py>=2.9"], tag=LINUX)
    make_wheel(files, "tensorflow", "2.15.1", requires=[*tf2, "keras>=2.15,<2.16"], tag=LINUX)
    for v in ("2.17.1", "2.19.0", "2.21.0"):
        for tag in (LINUX, LINUX312):
            make_wheel(files, "tensorflow", v, requires=["numpy>=1.26", "keras>=3.5", "h5py>=3.11", "protobuf>=3.20.3"], tag=tag)
    for v in ("2.12.0", "2.15.0", "3.5.0", "3.10.0", "3.15.1"):
        make_wheel(files, "keras", v, requires=["numpy"])
    for v in ("2.17.0", "2.19.0"):
        make_wheel(files, "tf-keras", v, requires=[f"tensorflow>={v[:4]},<2.{int(v[2:4]) + 1}"])
    for v in ("1.24.3", "1.26.4", "2.1.3", "2.4.6"):
        make_wheel(files, "numpy", v)
    for v in ("3.10.0", "3.11.0", "3.14.0", "3.16.0"):
        make_wheel(files, "h5py", v, requires=["numpy"])
    for v in ("3.20.3", "4.25.3", "6.31.1"):
        make_wheel(files, "protobuf", v)
    for v in ("0.3.2", "0.4.1", "0.5.1"):
        make_wheel(files, "ml-dtypes", v, requires=["numpy"])
    write_simple_index(root)
    return (root / "simple").as_uri()


NO_TF_KERAS = """[policy]
name = "keras 3 only"
[[block]]
package = "tf-keras"
versions = ">=0"
reason = "Keras 2 is end of life here"
"""

TF_215_ONLY = """[policy]
name = "tf 2.15 stack"
[[allow]]
package = "tensorflow"
versions = ">=2.15,<2.16"
reason = "the validated stack"
"""
