"""Bad input through the real entry point: one line naming what and where, exit status,
no traceback, nothing started or changed. No qemu is booted here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ctys.cli.main import main

GOOD_CONF = """\
#@#MAGICID-QEMU
#@#LABEL = {label}
#@#ACCELERATOR = TCG
KERNEL={kernel}
"""


@pytest.fixture
def vmdir(ctys_env: dict[str, str]) -> Path:
    return Path(ctys_env["CTYS_VMPATH"])


def write_vm(vmdir: Path, folder: str, text: str) -> Path:
    (vmdir / folder).mkdir(parents=True, exist_ok=True)
    conf = vmdir / folder / f"{folder}.conf"
    conf.write_text(text)
    return conf


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ctys: ")
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["-t", "QEMU", "-a", "FLY"], "FLY"),
        (["-t", "XEN", "-a", "LIST"], "XEN"),
        (["-t", "QEMU", "-a", "CREATE=l:x,BOGUS:1"], "BOGUS"),
        (["-t", "QEMU", "-a", "CREATE=l:x,CONSOLE:CLI,"], "empty"),
        (["-t", "QEMU", "-a", "CREATE=l:x,BOOTMODE:TAPE"], "TAPE"),
        (["-t", "QEMU", "-a", "CREATE=l:x,CONSOLE:TTY"], "TTY"),
        (["-t", "QEMU", "-a", "CANCEL=l:x,TIMEOUT:soon"], "soon"),
        (["-t", "QEMU", "-a", "LIST=WIDE"], "WIDE"),
        (["-t", "QEMU", "-x"], "-x"),
        (["-t", "QEMU"], "no action"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], ctys_env: dict[str, str], argv: list[str], needle: str
) -> None:
    code, err = run(capsys, *argv)
    assert code == 2
    assert needle in one_line(err)


def test_unknown_label(capsys: pytest.CaptureFixture[str], vmdir: Path) -> None:
    code, err = run(capsys, "-t", "QEMU", "-a", "CREATE=l:nosuch")
    assert code == 1
    line = one_line(err)
    assert "no VM matches LABEL:nosuch" in line
    assert str(vmdir) in line


def test_ambiguous_label_lists_candidates(capsys: pytest.CaptureFixture[str], vmdir: Path) -> None:
    kernel = vmdir / "k"
    kernel.write_bytes(b"x")
    a = write_vm(vmdir, "a", GOOD_CONF.format(label="twin", kernel=kernel))
    b = write_vm(vmdir, "b", GOOD_CONF.format(label="twin", kernel=kernel))
    code, err = run(capsys, "-t", "QEMU", "-a", "CREATE=l:twin")
    assert code == 1
    line = one_line(err)
    assert "ambiguous, 2 VMs match" in line
    assert str(a) in line and str(b) in line


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("KERNEL=$(rm -rf /)\n", ":3:"),
        ("X=`id`\n", ":3:"),
        ("X='open\n", ":3:"),
        ("rm -rf /\n", ":3:"),
    ],
)
def test_conf_with_code_is_refused_with_file_and_line(
    capsys: pytest.CaptureFixture[str], vmdir: Path, body: str, needle: str
) -> None:
    conf = write_vm(vmdir, "evil", "#@#MAGICID-QEMU\n#@#LABEL = evil\n" + body)
    before = conf.read_bytes()
    code, err = run(capsys, "-t", "QEMU", "-a", f"CREATE=F:{conf}")
    assert code == 1
    line = one_line(err)
    assert f"{conf}{needle}" in line
    assert conf.read_bytes() == before


def test_broken_conf_is_skipped_by_label_scan(
    capsys: pytest.CaptureFixture[str], vmdir: Path
) -> None:
    write_vm(vmdir, "evil", "#@#MAGICID-QEMU\nX=$(id)\n")
    code, err = run(capsys, "-t", "QEMU", "-a", "CREATE=l:evil")
    assert code == 1
    assert "1 conf file(s) unreadable" in one_line(err)


def test_missing_image(capsys: pytest.CaptureFixture[str], vmdir: Path) -> None:
    write_vm(vmdir, "lost", GOOD_CONF.format(label="lost", kernel=vmdir / "gone" / "vmlinuz"))
    code, err = run(capsys, "-t", "QEMU", "-a", "CREATE=l:lost")
    assert code == 1
    assert f"kernel {vmdir / 'gone' / 'vmlinuz'} of VM lost does not exist" in one_line(err)


def test_iso_path_that_is_a_directory(capsys: pytest.CaptureFixture[str], vmdir: Path) -> None:
    kernel = vmdir / "k"
    kernel.write_bytes(b"x")
    write_vm(vmdir, "cd", GOOD_CONF.format(label="cd", kernel=kernel))
    code, err = run(capsys, "-t", "QEMU", "-a", f"CREATE=l:cd,BOOTMODE:CD%{vmdir}")
    assert code == 1
    assert f"ISO image {vmdir} of VM cd is a directory" in one_line(err)


def test_resolution_option_is_not_supported(
    capsys: pytest.CaptureFixture[str], vmdir: Path
) -> None:
    code, err = run(capsys, "-t", "QEMU", "-a", "CREATE=l:x", "-r", "800x600")
    assert code == 1
    assert "-r (resolution) is not supported" in one_line(err)


def test_cancel_of_vm_not_running(capsys: pytest.CaptureFixture[str], vmdir: Path) -> None:
    kernel = vmdir / "k"
    kernel.write_bytes(b"x")
    write_vm(vmdir, "idle", GOOD_CONF.format(label="idle", kernel=kernel))
    code, err = run(capsys, "-t", "QEMU", "-a", "CANCEL=l:idle")
    assert code == 1
    assert "VM idle is not running" in one_line(err)


def test_runtime_dir_open_to_others_is_refused(
    capsys: pytest.CaptureFixture[str], ctys_env: dict[str, str]
) -> None:
    runtime = Path(ctys_env["CTYS_RUNTIME_DIR"])
    runtime.mkdir(mode=0o700)
    os.chmod(runtime, 0o777)
    code, err = run(capsys, "-t", "QEMU", "-a", "LIST")
    assert code == 1
    assert "is open to other users (mode 777)" in one_line(err)
    assert (runtime.stat().st_mode & 0o777) == 0o777


def test_runtime_dir_of_another_user_is_refused(
    capsys: pytest.CaptureFixture[str], ctys_env: dict[str, str]
) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root to give a folder to another user")
    runtime = Path(ctys_env["CTYS_RUNTIME_DIR"])
    runtime.mkdir(mode=0o700)
    os.chown(runtime, 65534, 65534)
    code, err = run(capsys, "-t", "QEMU", "-a", "LIST")
    assert code == 1
    assert "is owned by uid 65534, not by you" in one_line(err)


@pytest.mark.parametrize(
    ("console", "needle"),
    [
        ("SDL", "CONSOLE:SDL needs a display"),
        ("XTERM", "CONSOLE:XTERM needs a display"),
        ("GTERM", "CONSOLE:GTERM needs a display"),
        ("EMACS", "CONSOLE:EMACS needs a display"),
    ],
)
def test_window_consoles_without_display_fail_before_booting(
    capsys: pytest.CaptureFixture[str],
    vmdir: Path,
    ctys_env: dict[str, str],
    console: str,
    needle: str,
) -> None:
    kernel = vmdir / "k"
    kernel.write_bytes(b"x")
    write_vm(vmdir, "win", GOOD_CONF.format(label="win", kernel=kernel))
    code, err = run(capsys, "-t", "QEMU", "-a", f"CREATE=l:win,CONSOLE:{console}")
    assert code == 1
    assert needle in one_line(err)
    assert not list(Path(ctys_env["CTYS_RUNTIME_DIR"]).glob("vms/win-*"))


def test_xterm_console_missing_program(
    capsys: pytest.CaptureFixture[str], vmdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setenv("PATH", str(vmdir))  # no xterm anywhere on this PATH
    kernel = vmdir / "k"
    kernel.write_bytes(b"x")
    write_vm(vmdir, "win", GOOD_CONF.format(label="win", kernel=kernel))
    code, err = run(capsys, "-t", "QEMU", "-a", "CREATE=l:win,CONSOLE:XTERM")
    assert code == 1
    assert "CONSOLE:XTERM needs xterm, which is not installed" in one_line(err)
