"""The virtual packages (`__glibc`, `__cuda`, …) of the *target*, never detected from this host.

conda resolves `__glibc >=2.17` or `__cuda >=11.2` against what the machine that installs has; a
lock for another machine must say what that machine has instead: the target's glibc/macOS
(kresolve's defaults, or the host's when the target is the host), the CUDA version its NVIDIA
driver supports (`--cuda-driver`), or for `--gpu` without a driver the CUDA the locked
TensorFlow's GPU build needs (the lock then assumes a driver that supports it).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..target import Target

# A Linux kernel as old as the default glibc (2.28: RHEL 8 ships 4.18).
DEFAULT_LINUX = "4.18"

# The CUDA release each driver branch first supports (NVIDIA's "CUDA Toolkit and Corresponding
# Driver Versions" table, Linux x86_64, GA drivers): the newest whose driver is <= the target's.
CUDA_BY_DRIVER: tuple[tuple[tuple[int, ...], str], ...] = (
    ((410, 48), "10.0"),
    ((418, 39), "10.1"),
    ((440, 33), "10.2"),
    ((450, 36, 6), "11.0"),
    ((455, 23), "11.1"),
    ((460, 27, 3), "11.2"),
    ((465, 19, 1), "11.3"),
    ((470, 42, 1), "11.4"),
    ((495, 29, 5), "11.5"),
    ((510, 39, 1), "11.6"),
    ((515, 43, 4), "11.7"),
    ((520, 61, 5), "11.8"),
    ((525, 60, 13), "12.0"),
    ((530, 30, 2), "12.1"),
    ((535, 54, 3), "12.2"),
    ((545, 23, 6), "12.3"),
    ((550, 54, 14), "12.4"),
    ((555, 42, 2), "12.5"),
    ((560, 28, 3), "12.6"),
    ((570, 26), "12.8"),
    ((575, 51, 3), "12.9"),
    ((580, 65, 6), "13.0"),
)

ARCHSPEC = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "arm64", "AMD64": "x86_64"}


@dataclass(frozen=True)
class VirtualPackage:
    name: str
    version: str
    build: str = "0"

    def spec(self) -> str:
        return f"{self.name}={self.version}={self.build}"


def cuda_for_driver(driver: str) -> str | None:
    """The newest CUDA a driver runs (None: older than CUDA 10.0's)."""
    key = tuple(int(p) for p in driver.split(".") if p.isdigit())
    found = None
    for floor, cuda in CUDA_BY_DRIVER:
        if key >= floor:
            found = cuda
    return found


def virtual_packages(target: Target, gpu_cuda: str | None = None) -> tuple[VirtualPackage, ...]:
    """The virtual packages the target machine has. `gpu_cuda`: the CUDA the lock needs on a
    `--gpu` target without `--cuda-driver` (assumed present)."""
    found: list[VirtualPackage] = []
    system = target.system
    if system == "Linux":
        glibc = target.glibc or (2, 28)
        found += [VirtualPackage("__linux", DEFAULT_LINUX), VirtualPackage("__glibc", f"{glibc[0]}.{glibc[1]}"),
                  VirtualPackage("__unix", "0")]
    elif system == "Darwin":
        macos = target.macos or (12, 0)
        found += [VirtualPackage("__osx", f"{macos[0]}.{macos[1]}"), VirtualPackage("__unix", "0")]
    else:
        found.append(VirtualPackage("__win", "0"))
    found.append(VirtualPackage("__archspec", "1", ARCHSPEC.get(target.machine, target.machine)))
    if target.gpu and system in ("Linux", "Windows"):
        cuda = cuda_for_driver(target.cuda_driver) if target.cuda_driver else gpu_cuda
        if cuda:
            found.append(VirtualPackage("__cuda", cuda))
    return tuple(found)
