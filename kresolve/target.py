"""The platform an environment is solved for: tags and markers of the *target*, not the host."""

from __future__ import annotations

import platform as _platform
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging import tags
from packaging.version import Version

from .errors import BadInput

if TYPE_CHECKING:
    from .rules.db import Accelerator

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

# CPython minors kresolve solves for: 3.5 (the oldest with TensorFlow wheels of the older eras)
# to 3.14 (the newest released). Anything else is a typo or a Python that has no wheels yet.
PYTHON_MINORS = tuple(f"3.{m}" for m in range(5, 15))

# uv's --python-platform names (`uv pip compile --help`, uv 0.13) for the platforms kresolve
# knows, with the floors uv gives them: plain Linux names mean manylinux_2_28, macOS ones 13.0.
UV_MACOS = (13, 0)
UV_PLATFORMS: dict[str, tuple[str, tuple[int, int] | None, tuple[int, int] | None]] = {
    "linux": ("linux-64", DEFAULT_GLIBC, None),
    "windows": ("win-64", None, None),
    "macos": ("osx-arm64", None, UV_MACOS),
    "x86_64-unknown-linux-gnu": ("linux-64", DEFAULT_GLIBC, None),
    "aarch64-unknown-linux-gnu": ("linux-aarch64", DEFAULT_GLIBC, None),
    "x86_64-pc-windows-msvc": ("win-64", None, None),
    "aarch64-apple-darwin": ("osx-arm64", None, UV_MACOS),
    "x86_64-apple-darwin": ("osx-64", None, UV_MACOS),
    "x86_64-manylinux2014": ("linux-64", (2, 17), None),
    "aarch64-manylinux2014": ("linux-aarch64", (2, 17), None),
}
for _arch, _conda in (("x86_64", "linux-64"), ("aarch64", "linux-aarch64")):
    for _minor in (17, 28, *range(31, 41)):
        UV_PLATFORMS[f"{_arch}-manylinux_2_{_minor}"] = (_conda, (2, _minor), None)


def platform_words() -> str:
    """Every platform name the CLI accepts, for help and error messages."""
    return f"{', '.join(PLATFORMS)} (conda) or uv's {', '.join(n for n in UV_PLATFORMS if 'manylinux_2_' not in n)}, ARCH-manylinux_2_MINOR"


@dataclass(frozen=True)
class Target:
    python: str  # "3.11"
    platform: str  # conda-style name, one of PLATFORMS
    glibc: tuple[int, int] | None = None  # linux only
    macos: tuple[int, int] | None = None  # osx only
    gpu: bool = False  # solve for the GPU build (CUDA on Linux, Metal on Apple silicon)
    cuda_driver: str | None = None  # NVIDIA driver version on the target, when known
    python_full: str | None = None  # "3.11.4" when a patch was asked for: pins python_full_version

    @property
    def python_patch(self) -> str:
        """The full version the markers see: the asked patch, else `X.Y.0`."""
        return self.python_full or f"{self.python}.0"

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
        return f"Python {self.python_full or self.python} on {self.platform}{extra}"

    def markers(self) -> dict[str, str]:
        """PEP 508 marker environment of the target interpreter (CPython assumed)."""
        sys_platform, system, machine = PLATFORMS[self.platform]
        return {
            "implementation_name": "cpython",
            "implementation_version": self.python_patch,
            "os_name": "nt" if system == "Windows" else "posix",
            "platform_machine": machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": system,
            "platform_version": "",
            "python_full_version": self.python_patch,
            "python_version": self.python,
            "sys_platform": sys_platform,
        }

    def platform_tags(self) -> list[str]:
        """The target's platform tags, best first. macOS uses `packaging.tags.mac_platforms`;
        Linux is written here on purpose: packaging's manylinux tags come from the *running*
        host's glibc (a private module that inspects this process), while kresolve solves for
        a target glibc that is not the host's."""
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


def _floor(flag: str, text: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """`--glibc 2.17` / `--macos 11.0` → (major, minor)."""
    if text is None or isinstance(text, tuple):
        return text
    parts = text.strip().split(".")
    if not 1 <= len(parts) <= 2 or not all(p.isdigit() for p in parts):
        raise BadInput(f"{flag} {text!r}: expected MAJOR.MINOR such as {'2.17' if flag == '--glibc' else '11.0'}")
    return int(parts[0]), int(parts[1]) if len(parts) == 2 else 0


def parse_python(text: str) -> tuple[str, str | None]:
    """`3.11` → ("3.11", None); `3.11.4` → ("3.11", "3.11.4"); anything else is bad input."""
    parts = text.split(".")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise BadInput(f"--python {text!r}: expected a CPython 3 minor such as 3.11 or a release such as 3.11.4 "
                       f"(supported: {PYTHON_MINORS[0]} to {PYTHON_MINORS[-1]})")
    minor = f"{int(parts[0])}.{int(parts[1])}"
    if minor not in PYTHON_MINORS:
        raise BadInput(f"--python {text}: kresolve solves for CPython {PYTHON_MINORS[0]} to {PYTHON_MINORS[-1]}, not {minor}")
    return minor, (f"{minor}.{int(parts[2])}" if len(parts) == 3 else None)


def resolve_platform(name: str) -> tuple[str, tuple[int, int] | None, tuple[int, int] | None]:
    """A conda platform name or one of uv's --python-platform names → (conda name, glibc, macOS)
    floors the name implies (None: the default for that platform)."""
    if name in PLATFORMS:
        return name, None, None
    if name in UV_PLATFORMS:
        return UV_PLATFORMS[name]
    raise BadInput(f"--platform {name!r}: expected one of {platform_words()}")


def make_target(python: str | None = None, platform: str | None = None, gpu: bool = False,
                cuda_driver: str | None = None, glibc: str | tuple[int, int] | None = None,
                macos: str | tuple[int, int] | None = None) -> Target:
    """Target from CLI words; unspecified parts default to this host.

    `python`: `3.11` or `3.11.4` (a patch pins `python_full_version`); `platform`: a conda name
    (linux-64 …) or uv's --python-platform name (x86_64-manylinux_2_28, macos …); `glibc` /
    `macos`: explicit floors (default: this host's glibc for a linux target on this host, else
    2.28; macOS 12.0, or 13.0 for uv's macOS names as uv assumes).
    """
    minor, full = parse_python(python or f"{sys.version_info.major}.{sys.version_info.minor}")
    name, implied_glibc, implied_macos = resolve_platform(platform or host_platform())
    glibc_floor, macos_floor = _floor("--glibc", glibc), _floor("--macos", macos)
    system, machine = PLATFORMS[name][1], PLATFORMS[name][2]
    if glibc_floor is not None and system != "Linux":
        raise BadInput(f"--glibc {glibc_floor[0]}.{glibc_floor[1]}: only a Linux target has a glibc (the target is {name})")
    if macos_floor is not None and system != "Darwin":
        raise BadInput(f"--macos {macos_floor[0]}.{macos_floor[1]}: only a macOS target has a macOS version (the target is {name})")
    glibc_t = macos_t = None
    if system == "Linux":
        glibc_t = glibc_floor or implied_glibc or (host_glibc() if name == host_platform() else None) or DEFAULT_GLIBC
    elif system == "Darwin":
        macos_t = macos_floor or implied_macos or DEFAULT_MACOS[machine]
    if cuda_driver is not None:
        if not all(part.isdigit() for part in cuda_driver.split(".")):
            raise BadInput(f"--cuda-driver {cuda_driver!r}: expected an NVIDIA driver version such as 535.104.05")
        gpu = True
    return Target(python=minor, platform=name, glibc=glibc_t, macos=macos_t, gpu=gpu, cuda_driver=cuda_driver,
                  python_full=full)


def gpu_platforms(accelerators: Iterable[Accelerator]) -> tuple[str, ...]:
    """Platforms some rules/gpu.toml rule gives a GPU build for (CUDA, or a package --gpu adds)."""
    found = {p for a in accelerators if a.cuda or a.requires for p in a.platforms}
    return tuple(p for p in PLATFORMS if p in found)


def check_gpu(target: Target, accelerators: Sequence[Accelerator]) -> None:
    """`--gpu` on a platform with no GPU build in the rules is bad usage (exit 2), said up front."""
    if target.gpu and target.platform not in gpu_platforms(accelerators):
        raise BadInput(f"--gpu: no GPU build on {target.platform} for any TensorFlow release the rules know "
                       f"(GPU builds exist for {', '.join(gpu_platforms(accelerators))}; rules/gpu.toml)")


def is_host(target: Target) -> bool:
    """Whether an environment for `target` can run here (the smoke test needs this)."""
    return target.platform == host_platform() and target.python == f"{sys.version_info.major}.{sys.version_info.minor}"
