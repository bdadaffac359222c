"""#@#SHARE<n>: shared folders mounted by real guests.

virtiofs on the real Debian guest (one boot: a read-write and a read-only share, both
mounted without ``-o ro`` so the host must refuse the write), 9p on the tiny guest booted
on Debian's generic kernel (the cloud kernel of both guests has no 9p at all: one boot,
forced by ``CTYS_SHARE_TRANSPORT=9p``). ``-n`` and a missing folder start nothing.
Booted: the real guest once, the tiny guest once.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctys.consoles.serial import SerialConsole
from ctys.plugins.qemu.demo.demovm import write_demo_conf
from ctys.plugins.qemu.demo.realvm import LOGIN_PROMPT, ssh_argv
from ctys.plugins.qemu.images.build import GENERIC_KERNEL_META_PACKAGE, GuestImage, build_guest
from ctys.plugins.qemu.images.realsystem import RealGuestImage
from support.cli import Ctys, run_ctys
from support.procs import live_pids, live_qemu_pids
from support.realguest import real_guest_folder

pytestmark = pytest.mark.timeout(900)
BOOT_TIMEOUT = 300.0  # the real guest under TCG on a loaded 2-CPU machine


def _is_virtiofsd(program: str) -> bool:
    return Path(program).name == "virtiofsd"


def _daemons(runtime: str) -> list[int]:
    return live_pids(runtime, _is_virtiofsd)


@contextlib.contextmanager
def _no_daemon_left(runtime: str) -> Iterator[None]:
    """Kill the share daemons a failed test leaves (the fixtures reap only qemus)."""
    try:
        yield
    finally:
        for pid in _daemons(runtime):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _host_folders(root: Path) -> tuple[Path, Path]:
    rw, ro = root / "share-rw", root / "share-ro"
    rw.mkdir()
    ro.mkdir()
    (rw / "hello.txt").write_text("hello from the host\n")
    (ro / "readme.txt").write_text("read me, do not write\n")
    return rw, ro


def _add_shares(conf: Path, rw: Path, ro: Path, *options: str) -> None:
    extra = "".join(f"%{o}" for o in options)
    with conf.open("a") as fh:
        fh.write(f"#@#SHARE0 = {rw}%hostrw{extra}\n#@#SHARE1 = {ro}%hostro%ro{extra}\n")


def _tiny_vm(guest: GuestImage, env: dict[str, str], root: Path, label: str) -> tuple[Path, Path]:
    """A tiny-guest VM ``label`` with a rw share ``hostrw`` and an ro one ``hostro``."""
    conf = write_demo_conf(Path(env["CTYS_VMPATH"]) / label, guest, label)
    rw, ro = _host_folders(root)
    _add_shares(conf, rw, ro)
    return rw, ro


def test_dry_run_prints_the_share_argv_and_starts_nothing(
    guest: GuestImage, ctys: Ctys, ctys_env: dict[str, str], short_tmp: Path
) -> None:
    _tiny_vm(guest, ctys_env, short_tmp, "sh1")
    done = ctys("-t", "QEMU", "-a", "CREATE=l:sh1,CONSOLE:NONE", "-n")
    assert done.returncode == 0, done.stderr
    runtime = ctys_env["CTYS_RUNTIME_DIR"]
    assert "vhost-user-fs-pci,chardev=fs0,tag=hostrw" in done.stdout
    assert "vhost-user-fs-pci,chardev=fs1,tag=hostro" in done.stdout
    assert "memory-backend-memfd,id=ctysmem,size=256M,share=on" in done.stdout
    assert _daemons(runtime) == [] and live_qemu_pids(runtime) == []
    assert not list(Path(runtime).glob("vms/sh1-*"))


def test_a_missing_folder_fails_in_one_line_before_anything_starts(
    guest: GuestImage, ctys: Ctys, ctys_env: dict[str, str], short_tmp: Path
) -> None:
    conf = write_demo_conf(Path(ctys_env["CTYS_VMPATH"]) / "sh2", guest, "sh2")
    with conf.open("a") as fh:
        fh.write(f"#@#SHARE4 = {short_tmp}/nothere%data\n")
    done = ctys("-t", "QEMU", "-a", "CREATE=l:sh2,CONSOLE:NONE")
    assert done.returncode != 0
    [line] = done.stderr.splitlines()
    assert "#@#SHARE4: host folder" in line and "nothere does not exist" in line
    runtime = ctys_env["CTYS_RUNTIME_DIR"]
    assert live_qemu_pids(runtime) == [] and _daemons(runtime) == []


# --- virtiofs on the real guest ----------------------------------------------------------


def _ssh(image: RealGuestImage, port: int, command: str) -> subprocess.CompletedProcess[str]:
    """``command`` in the guest as root, retried while its sshd is not up yet."""
    deadline = time.monotonic() + 90
    while True:
        done = subprocess.run(ssh_argv(image, port, command), capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL, check=False)  # fmt: skip
        if done.returncode != 255 or time.monotonic() > deadline:
            return done
        time.sleep(0.5)


def test_virtiofs_read_write_and_a_read_only_share_on_the_real_guest(
    real_image: RealGuestImage,
) -> None:
    with real_guest_folder(real_image, "realfs", guest_agent=False) as folder:
        env = folder.env
        runtime = env["CTYS_RUNTIME_DIR"]
        rw, ro = _host_folders(folder.root)
        _add_shares(Path(env["CTYS_VMPATH"]) / "realfs" / "realfs.conf", rw, ro)
        with _no_daemon_left(runtime):
            done = run_ctys("-t", "QEMU", "-a", "CREATE=l:realfs,BOOTMODE:HDD", "-b", "1",
                            env=env, timeout=120)  # fmt: skip
            assert done.returncode == 0, done.stderr
            [sock] = Path(runtime, "vms").glob("realfs-*/console.sock")
            # One virtiofsd per share (each forks its sandboxed worker: two processes).
            pids = {int(p.read_text()) for p in sock.parent.glob("fs*.pid")}
            assert len(pids) == 2 and pids <= set(_daemons(runtime))
            assert oct(sock.parent.stat().st_mode & 0o777) == "0o700"
            with SerialConsole(sock, timeout=BOOT_TIMEOUT) as console:
                console.read_until(LOGIN_PROMPT.encode())
            # Both mounted read-write by the guest: the host alone makes hostro read-only.
            script = (
                "mkdir -p /mnt/rw /mnt/ro"
                " && mount -t virtiofs hostrw /mnt/rw && mount -t virtiofs hostro /mnt/ro"
                " && cat /mnt/rw/hello.txt /mnt/ro/readme.txt"
                " && echo 'written by the guest' > /mnt/rw/back.txt"
                " && { echo nope > /mnt/ro/denied.txt; echo ro-write-status=$?; }"
            )
            out = _ssh(real_image, folder.port, script)
            assert out.returncode == 0, out.stderr
            assert out.stdout.splitlines()[:2] == ["hello from the host", "read me, do not write"]
            assert re.search(r"ro-write-status=[1-9]", out.stdout), out.stdout
            assert "Read-only file system" in out.stderr
            assert (rw / "back.txt").read_text() == "written by the guest\n"
            assert not (ro / "denied.txt").exists()
            assert sorted(p.name for p in ro.iterdir()) == ["readme.txt"]
            done = run_ctys("-t", "QEMU", "-a", "CANCEL=l:realfs,TIMEOUT:60", env=env,
                            timeout=120)  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert live_qemu_pids(runtime) == []
            assert _daemons(runtime) == []  # the daemons went with the VM


# --- 9p on the tiny guest with the generic kernel ----------------------------------------


@pytest.fixture(scope="module")
def generic_guest() -> GuestImage:
    """The tiny guest on Debian's generic kernel (it has 9p; the cloud kernel does not)."""
    return build_guest(kernel_meta=GENERIC_KERNEL_META_PACKAGE)


_RESULT = re.compile(rb"BEGIN41\r?\n(.*?)END42-(\d+)", re.DOTALL)


def _run(console: SerialConsole, command: str) -> tuple[str, int]:
    """Run ``command`` in the guest's shell; its output and exit status. The markers
    are computed by the shell, so the echoed command line never matches them."""
    console.send_line(f"echo BEGIN$((40+1)); {command}; echo END$((40+2))-$?")
    found = _RESULT.search(console.read_until(_RESULT, timeout=60))
    assert found is not None
    return found.group(1).decode(errors="replace").replace("\r", "").strip(), int(found.group(2))


def test_9p_read_write_and_a_read_only_share_on_the_tiny_guest(
    generic_guest: GuestImage, ctys: Ctys, ctys_env: dict[str, str], short_tmp: Path
) -> None:
    rw, ro = _tiny_vm(generic_guest, ctys_env, short_tmp, "sh9")
    runtime = ctys_env["CTYS_RUNTIME_DIR"]
    env = {**ctys_env, "CTYS_SHARE_TRANSPORT": "9p"}
    done = run_ctys("-t", "QEMU", "-a", "CREATE=l:sh9,CONSOLE:NONE", env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _daemons(runtime) == []  # 9p is qemu's own: no daemon
    [sock] = Path(runtime, "vms").glob("sh9-*/console.sock")
    mount = "mount -t 9p -o trans=virtio,version=9p2000.L"
    with SerialConsole(sock, timeout=120) as console:
        console.read_until(b"CTYS-GUEST-READY")
        console.read_until(b"guest# ")
        assert _run(console, f"mkdir -p /mnt/rw /mnt/ro && {mount} hostrw /mnt/rw")[1] == 0
        assert _run(console, f"{mount} hostro /mnt/ro")[1] == 0
        assert _run(console, "cat /mnt/rw/hello.txt") == ("hello from the host", 0)
        assert _run(console, "cat /mnt/ro/readme.txt") == ("read me, do not write", 0)
        assert _run(console, "echo 'written by the guest' > /mnt/rw/back.txt")[1] == 0
        denied, status = _run(console, "echo nope > /mnt/ro/denied.txt")
        assert status != 0
        assert "Read-only file system" in denied
        _run(console, "sync")
    assert (rw / "back.txt").read_text() == "written by the guest\n"
    assert not (ro / "denied.txt").exists()
    done = ctys("-t", "QEMU", "-a", "CANCEL=l:sh9,FORCE")
    assert done.returncode == 0, done.stderr
    assert live_qemu_pids(runtime) == []
