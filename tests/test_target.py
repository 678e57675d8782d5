import pytest
from packaging.tags import Tag

from kresolve.errors import BadInput
from kresolve.target import make_target


def test_linux_target_accepts_manylinux2014_and_rejects_other_platforms():
    tags = set(make_target("3.11", "linux-64").supported_tags())
    assert Tag("cp311", "cp311", "manylinux2014_x86_64") in tags
    assert Tag("py3", "none", "any") in tags
    assert Tag("cp311", "cp311", "macosx_12_0_arm64") not in tags
    assert Tag("cp310", "cp310", "manylinux2014_x86_64") not in tags


def test_non_host_linux_target_uses_default_glibc_not_the_hosts():
    target = make_target("3.12", "linux-aarch64")
    tags = set(target.supported_tags())
    assert Tag("cp312", "cp312", "manylinux_2_28_aarch64") in tags
    assert Tag("cp312", "cp312", "manylinux_2_34_aarch64") not in tags
    assert Tag("cp312", "cp312", "manylinux1_aarch64") not in tags  # manylinux1 was x86-only


def test_macos_and_windows_targets():
    mac = set(make_target("3.10", "osx-arm64").supported_tags())
    assert Tag("cp310", "cp310", "macosx_12_0_arm64") in mac
    assert Tag("cp310", "cp310", "macosx_10_15_x86_64") not in mac
    win = make_target("3.12", "win-64")
    assert win.supported_tags()[0] == Tag("cp312", "cp312", "win_amd64")
    assert win.markers()["sys_platform"] == "win32"
    assert win.markers()["platform_system"] == "Windows"


def test_markers_describe_the_target_python():
    markers = make_target("3.9", "osx-64").markers()
    assert markers["python_version"] == "3.9"
    assert markers["sys_platform"] == "darwin"
    assert markers["platform_machine"] == "x86_64"


@pytest.mark.parametrize("python,platform", [("3", None), ("2.7", None), ("3.x", None), ("3.11", "solaris")])
def test_bad_target_words_are_bad_input(python, platform):
    with pytest.raises(BadInput):
        make_target(python, platform)
