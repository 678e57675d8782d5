"""pip's configuration files per OS, by pip's own rules (`pip config debug`), tested on any host
with an explicit OS and a fake home; and kresolve imports where `fcntl` does not exist (Windows)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from kresolve.index.config import read_pip_config
from kresolve.paths import OS, ConfigKind, pip_config_files


def paths(found):
    return [(f.kind, str(f.path)) for f in found]


def never(_path: str) -> bool:
    return False


def test_linux_global_user_site_in_pips_order():
    found = pip_config_files(OS.LINUX, {}, PurePosixPath("/home/ada"), PurePosixPath("/venv"), is_dir=never, exists=never)
    assert paths(found) == [
        (ConfigKind.GLOBAL, "/etc/xdg/pip/pip.conf"),
        (ConfigKind.GLOBAL, "/etc/pip.conf"),
        (ConfigKind.USER, "/home/ada/.pip/pip.conf"),
        (ConfigKind.USER, "/home/ada/.config/pip/pip.conf"),
        (ConfigKind.SITE, "/venv/pip.conf"),
    ]


def test_linux_follows_xdg_variables_and_pip_config_file():
    env = {"XDG_CONFIG_DIRS": "/opt/xdg:/etc/xdg", "XDG_CONFIG_HOME": "/home/ada/cfg", "PIP_CONFIG_FILE": "/srv/pip.conf"}
    found = pip_config_files(OS.LINUX, env, PurePosixPath("/home/ada"), None, is_dir=never, exists=never)
    assert paths(found) == [
        (ConfigKind.GLOBAL, "/opt/xdg/pip/pip.conf"),
        (ConfigKind.GLOBAL, "/etc/xdg/pip/pip.conf"),
        (ConfigKind.GLOBAL, "/etc/pip.conf"),
        (ConfigKind.USER, "/home/ada/.pip/pip.conf"),
        (ConfigKind.USER, "/home/ada/cfg/pip/pip.conf"),
        (ConfigKind.ENV, "/srv/pip.conf"),
    ]
    # pip skips the user files when PIP_CONFIG_FILE names a file that exists
    found = pip_config_files(OS.LINUX, env, PurePosixPath("/home/ada"), None, is_dir=never, exists=lambda p: True)
    assert [f.kind for f in found] == [ConfigKind.GLOBAL] * 3 + [ConfigKind.ENV]
    assert pip_config_files(OS.LINUX, {"PIP_CONFIG_FILE": "/dev/null"}, PurePosixPath("/home/ada")) == []


def test_macos_uses_application_support_when_it_exists():
    home = PurePosixPath("/Users/ada")
    support = str(home / "Library" / "Application Support" / "pip")
    found = pip_config_files(OS.MACOS, {}, home, None, is_dir=lambda p: p == support, exists=never)
    assert paths(found) == [
        (ConfigKind.GLOBAL, "/Library/Application Support/pip/pip.conf"),
        (ConfigKind.USER, "/Users/ada/.pip/pip.conf"),
        (ConfigKind.USER, "/Users/ada/Library/Application Support/pip/pip.conf"),
    ]
    found = pip_config_files(OS.MACOS, {}, home, None, is_dir=never, exists=never)
    assert paths(found)[-1] == (ConfigKind.USER, "/Users/ada/.config/pip/pip.conf")


def test_windows_uses_pip_ini_under_programdata_and_appdata():
    env = {"APPDATA": r"C:\Users\ada\AppData\Roaming", "PROGRAMDATA": r"C:\ProgramData"}
    found = pip_config_files(OS.WINDOWS, env, PureWindowsPath(r"C:\Users\ada"), PureWindowsPath(r"C:\venv"),
                             is_dir=never, exists=never)
    assert paths(found) == [
        (ConfigKind.GLOBAL, r"C:\ProgramData\pip\pip.ini"),
        (ConfigKind.USER, r"C:\Users\ada\pip\pip.ini"),
        (ConfigKind.USER, r"C:\Users\ada\AppData\Roaming\pip\pip.ini"),
        (ConfigKind.SITE, r"C:\venv\pip.ini"),
    ]
    assert pip_config_files(OS.WINDOWS, {"PIP_CONFIG_FILE": "nul"}, PureWindowsPath(r"C:\Users\ada")) == []


def test_read_pip_config_takes_a_real_user_file_from_a_fake_home(tmp_path, monkeypatch):
    # The real reader over the real file system: HOME points at a fake home with ~/.config/pip/pip.conf.
    if sys.platform != "linux":
        pytest.skip("the XDG layout is Linux's; the per-OS rules are tested above")
    user = tmp_path / ".config" / "pip"
    user.mkdir(parents=True)
    (user / "pip.conf").write_text("[global]\nindex-url = https://user.example/simple\n")
    legacy = tmp_path / ".pip"
    legacy.mkdir()
    (legacy / "pip.conf").write_text("[global]\nindex-url = https://legacy.example/simple\nno-index = false\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    env = {"HOME": str(tmp_path), "XDG_CONFIG_DIRS": str(tmp_path / "no-xdg")}
    config = read_pip_config(env)
    assert config.index_url == "https://user.example/simple" and not config.no_index  # the new file wins


BLOCK_FCNTL = """
import sys

class _NoFcntl:
    def find_spec(self, name, path=None, target=None):
        if name == "fcntl":
            raise ModuleNotFoundError("No module named 'fcntl' (blocked: as on Windows)")
        return None

sys.meta_path.insert(0, _NoFcntl())
"""


def test_kresolve_imports_without_fcntl(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(BLOCK_FCNTL)
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    code = ("import sys; sys.modules.pop('fcntl', None)\n"
            "try:\n    import fcntl\nexcept ModuleNotFoundError:\n    pass\nelse:\n    raise SystemExit('fcntl was not blocked')\n"
            "import kresolve.cli, kresolve.api, kresolve.smoke.envs, kresolve.index.cache\n"
            "assert 'fcntl' not in sys.modules\n"
            "raise SystemExit(kresolve.cli.main(['rules', 'show', 'tensorflow', '2.15.1', '--json']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr
    assert Path(tmp_path / "sitecustomize.py").exists() and proc.stdout.lstrip().startswith("[")
