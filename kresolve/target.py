"""The platform an environment is solved for: tags and markers of the *target*, not the host."""

from __future__ import annotations

import platform as _platform
import sys
from dataclasses import dataclass

from packaging import tags
from packaging.version import Version

from .errors import BadInput

# conda-style platform names (the CLI's vocabulary) -> (sys.platform, platform.system(), machine)
PLATFORMS: dict[str, tuple[str, str, str]] = {
    "linux-64": ("linux", "Linux", "x86_64"),
    "linux-aarch64": ("linux", "Linux", "aarch64"),
    "osx-64": ("darwin", "Darwin", "x86_64"),
    "osx-arm64": ("darwin", "Darwin", "arm64"),
    "win-64": ("win32", "Windows", "AMD64"),
}

# Defaults for targets that are not this host. glibc 2.28 is RHEL 8 / Debian 10 era, the oldest
# still common on servers; macOS 12 is the oldest release TF's arm64 wheels target.
DEFAULT_GLIBC = (2, 28)
DEFAULT_MACOS = {"x86_64": (12, 0), "arm64": (12, 0)}


@dataclass(frozen=True)
class Target:
    python: str  # "3.11"
    platform: str  # conda-style name, one of PLATFORMS
    glibc: tuple[int, int] | None = None  # linux only
    macos: tuple[int, int] | None = None  # osx only
    gpu: bool = False  # solve for the GPU build (CUDA on Linux, Metal on Apple silicon)
    cuda_driver: str | None = None  # NVIDIA driver version on the target, when known

    @property
    def python_version(self) -> Version:
        return Version(self.python)

    @property
    def system(self) -> str:
        return PLATFORMS[self.platform][1]

    @property
    def machine(self) -> str:
        return PLATFORMS[self.platform][2]

    def describe(self) -> str:
        extra = ""
        if self.glibc:
            extra = f", glibc {self.glibc[0]}.{self.glibc[1]}"
        elif self.macos:
            extra = f", macOS {self.macos[0]}.{self.macos[1]}"
        if self.gpu:
            extra += ", GPU" + (f" (NVIDIA driver {self.cuda_driver})" if self.cuda_driver else "")
        return f"Python {self.python} on {self.platform}{extra}"

    def markers(self) -> dict[str, str]:
        """PEP 508 marker environment of the target interpreter (CPython assumed)."""
        sys_platform, system, machine = PLATFORMS[self.platform]
        return {
            "implementation_name": "cpython",
            "implementation_version": f"{self.python}.0",
            "os_name": "nt" if system == "Windows" else "posix",
            "platform_machine": machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": system,
            "platform_version": "",
            "python_full_version": f"{self.python}.0",
            "python_version": self.python,
            "sys_platform": sys_platform,
        }

    def platform_tags(self) -> list[str]:
        machine = self.machine
        if self.system == "Linux":
            major, minor_max = self.glibc or DEFAULT_GLIBC
            found = [f"manylinux_{major}_{m}_{machine}" for m in range(minor_max, 4, -1)]
            # PEP 600 aliases: manylinux2014 is 2.17 everywhere; 2010 and 1 exist for x86 only.
            aliases = [((2, 17), "manylinux2014")]
            if machine == "x86_64":
                aliases += [((2, 12), "manylinux2010"), ((2, 5), "manylinux1")]
            found += [f"{name}_{machine}" for glibc, name in aliases if glibc <= (major, minor_max)]
            found.append(f"linux_{machine}")
            return found
        if self.system == "Darwin":
            return list(tags.mac_platforms(self.macos or DEFAULT_MACOS[machine], machine))
        return ["win_amd64"]

    def supported_tags(self) -> list[tags.Tag]:
        """Most specific first, like pip: the index of a tag is its preference rank."""
        pyver = tuple(int(p) for p in self.python.split("."))
        plats = self.platform_tags()
        found = list(tags.cpython_tags(pyver, platforms=plats))
        found += list(tags.compatible_tags(pyver, f"cp{pyver[0]}{pyver[1]}", plats))
        return found


def host_platform() -> str:
    machine = _platform.machine().lower()
    if sys.platform.startswith("linux"):
        return "linux-aarch64" if machine in ("aarch64", "arm64") else "linux-64"
    if sys.platform == "darwin":
        return "osx-arm64" if machine == "arm64" else "osx-64"
    return "win-64"


def host_glibc() -> tuple[int, int] | None:
    name, version = _platform.libc_ver()
    if name != "glibc" or not version:
        return None
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def make_target(python: str | None = None, platform: str | None = None, gpu: bool = False,
                cuda_driver: str | None = None) -> Target:
    """Target from CLI words; unspecified parts default to this host."""
    python = python or f"{sys.version_info.major}.{sys.version_info.minor}"
    parts = python.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or parts[0] != "3":
        raise BadInput(f"--python {python!r}: expected a CPython 3 minor such as 3.11")
    platform = platform or host_platform()
    if platform not in PLATFORMS:
        raise BadInput(f"--platform {platform!r}: expected one of {', '.join(PLATFORMS)}")
    glibc = macos = None
    if PLATFORMS[platform][1] == "Linux":
        glibc = (host_glibc() if platform == host_platform() else None) or DEFAULT_GLIBC
    elif PLATFORMS[platform][1] == "Darwin":
        macos = DEFAULT_MACOS[PLATFORMS[platform][2]]
    if cuda_driver is not None:
        if not all(part.isdigit() for part in cuda_driver.split(".")):
            raise BadInput(f"--cuda-driver {cuda_driver!r}: expected an NVIDIA driver version such as 535.104.05")
        gpu = True
    return Target(python=python, platform=platform, glibc=glibc, macos=macos, gpu=gpu, cuda_driver=cuda_driver)


def is_host(target: Target) -> bool:
    """Whether an environment for `target` can run here (the smoke test needs this)."""
    return target.platform == host_platform() and target.python == f"{sys.version_info.major}.{sys.version_info.minor}"
