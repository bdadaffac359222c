"""The tiny test guest: it builds (cached, atomically), boots under TCG, answers on its
serial shell, reacts to the ACPI power button, and ignores it with ctys.noacpi=1."""

from __future__ import annotations

import gzip
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from qemu.qmp.legacy import QEMUMonitorProtocol

from ctys.errors import CtysError
from ctys.plugins.qemu.confs.mapping import load_vm_config
from ctys.plugins.qemu.demo.demovm import write_demo_conf
from ctys.plugins.qemu.images import build as guest_build
from ctys.plugins.qemu.images.build import GuestImage, build_guest

pytestmark = pytest.mark.e2e

READY = b"CTYS-GUEST-READY"
PROMPT = b"guest# "
POWER = b"CTYS-GUEST: power button"


def cpio_names(initrd: Path) -> set[str]:
    """Entry names of a gzip'd newc archive, read with the real cpio tool."""
    listing = subprocess.run(
        ["cpio", "-t", "--quiet"], input=gzip.decompress(initrd.read_bytes()),
        capture_output=True, check=True,
    )  # fmt: skip
    return set(listing.stdout.decode().split())


@dataclass
class BootedGuest:
    proc: subprocess.Popen[bytes]
    serial: socket.socket
    qmp_path: Path
    started: float
    seen: bytes = b""

    def expect(self, marker: bytes, timeout: float = 60) -> bytes:
        """Read the serial line until ``marker``; return what came before it."""
        end = time.monotonic() + timeout
        while marker not in self.seen:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {marker!r} within {timeout}s; serial: {self.seen!r}")
            self.serial.settimeout(min(left, 0.5))
            try:
                chunk = self.serial.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                raise AssertionError(f"serial closed before {marker!r}; serial: {self.seen!r}")
            self.seen += chunk
        before, _, self.seen = self.seen.partition(marker)
        return before

    def type(self, line: str) -> None:
        self.serial.sendall(line.encode() + b"\n")

    def qmp(self, command: str) -> None:
        monitor = QEMUMonitorProtocol(str(self.qmp_path))
        monitor.connect()
        try:
            monitor.cmd(command)
        finally:
            monitor.close()


@contextmanager
def boot(
    guest: GuestImage, tmp_path: Path, append: str, nic: str = "none"
) -> Iterator[BootedGuest]:
    """Boot ``guest`` with bare qemu (TCG); kill qemu whatever happens."""
    serial_path, qmp_path = tmp_path / "serial.sock", tmp_path / "qmp.sock"
    argv = [
        "qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-display", "none",
        "-no-reboot", "-monitor", "none", "-nic", nic,
        "-kernel", str(guest.kernel), "-initrd", str(guest.initrd), "-append", append,
        "-chardev", f"socket,id=ser0,path={serial_path},server=on,wait=on",
        "-serial", "chardev:ser0",
        "-qmp", f"unix:{qmp_path},server=on,wait=off",
    ]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE)
    serial = socket.socket(socket.AF_UNIX)
    try:
        # wait=on: the guest does not start until we are connected, so nothing is lost.
        while True:
            try:
                serial.connect(str(serial_path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
                assert time.monotonic() - started < 30, "qemu did not open its serial socket"
                time.sleep(0.02)
        yield BootedGuest(proc, serial, qmp_path, started)
    finally:
        serial.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_build_is_cached_and_has_the_pieces(guest: GuestImage) -> None:
    again = build_guest()
    assert again == guest
    assert guest.kernel.stat().st_size > 1_000_000
    names = cpio_names(guest.initrd)
    assert {"init", "bin/busybox", "dev/console", "bin/sh", "sbin/acpid"} <= names
    # The Debian cloud kernel has the ACPI button as a module: it must be in the initramfs.
    assert any(name.endswith("-button.ko") for name in names)
    assert any(name.endswith("-evdev.ko") for name in names)


def test_guest_boots_answers_and_obeys_the_power_button(guest: GuestImage, tmp_path: Path) -> None:
    with boot(guest, tmp_path, "console=ttyS0 panic=-1") as vm:
        vm.expect(READY)
        boot_seconds = time.monotonic() - vm.started
        print(f"guest reached CTYS-GUEST-READY in {boot_seconds:.2f}s under TCG")
        vm.expect(PROMPT)
        vm.type("echo $((6*7))")
        assert b"\r\n42\r\n" in vm.expect(PROMPT)
        vm.type("tty")  # the shell runs on the serial line itself (job control works)
        assert b"/dev/ttyS0" in vm.expect(PROMPT)
        vm.qmp("system_powerdown")
        vm.expect(POWER, timeout=30)
        assert vm.proc.wait(30) == 0


def test_noacpi_guest_ignores_the_power_button(guest: GuestImage, tmp_path: Path) -> None:
    with boot(guest, tmp_path, "console=ttyS0 panic=-1 ctys.noacpi=1") as vm:
        vm.expect(READY)
        vm.expect(PROMPT)
        vm.qmp("system_powerdown")
        time.sleep(3)
        vm.type("echo still-$((1+1))")
        assert b"still-2" in vm.expect(PROMPT)
        assert POWER not in vm.seen
        assert vm.proc.poll() is None


def test_guest_ip_goes_on_eth0(guest: GuestImage, tmp_path: Path) -> None:
    # restrict=on: user-mode networking that reaches nothing outside the VM.
    nic = "user,model=virtio-net-pci,restrict=on"
    with boot(guest, tmp_path, "console=ttyS0 panic=-1 ctys.ip=10.0.2.15/24", nic) as vm:
        vm.expect(PROMPT)
        vm.type("ip -o addr show dev eth0")
        assert b"inet 10.0.2.15/24" in vm.expect(PROMPT)


def test_guest_without_nic_still_boots_with_ip(guest: GuestImage, tmp_path: Path) -> None:
    with boot(guest, tmp_path, "console=ttyS0 panic=-1 ctys.ip=10.0.2.15/24") as vm:
        vm.expect(PROMPT)
        vm.type("ls /sys/class/net")
        assert b"eth0" not in vm.expect(PROMPT)


def test_parallel_builds_share_one_result(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path;"
        " from ctys.plugins.qemu.images.build import build_guest;"
        " print(build_guest(Path(sys.argv[1])).initrd)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = {proc.communicate(timeout=300)[0].strip() for proc in procs}
    assert all(proc.returncode == 0 for proc in procs)
    assert len(outputs) == 1
    assert Path(outputs.pop()).is_file()
    entries = [p.name for p in tmp_path.iterdir() if p.name != ".lock"]
    assert len(entries) == 1, entries  # one build dir, no leftover temp dirs


def test_changed_init_rebuilds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = build_guest(tmp_path)
    changed = guest_build.init_script() + b"# changed\n"
    monkeypatch.setattr(guest_build, "init_script", lambda: changed)
    second = build_guest(tmp_path)
    assert second.initrd != first.initrd
    assert first.initrd.is_file() and second.initrd.is_file()
    unpacked = subprocess.run(
        ["cpio", "-i", "--to-stdout", "--quiet", "init"],
        input=gzip.decompress(second.initrd.read_bytes()), capture_output=True, check=True,
    )  # fmt: skip
    assert unpacked.stdout == changed


def test_download_failure_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    apt_get = fake_bin / "apt-get"
    apt_get.write_text("#!/bin/sh\necho 'E: Failed to fetch http://x/y.deb' >&2\nexit 100\n")
    apt_get.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:{os.environ['PATH']}")
    with pytest.raises(CtysError, match=r"cannot download linux-image-.*Failed to fetch"):
        build_guest(tmp_path / "cache")
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".build-")]


def test_local_kernel_env_uses_that_kernel(
    guest: GuestImage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTYS_GUEST_KERNEL", str(guest.kernel))
    image = build_guest(tmp_path)
    assert image.kernel == guest.kernel
    assert image.initrd.is_relative_to(tmp_path)
    assert "init" in cpio_names(image.initrd)


def test_demo_conf_parses_and_keeps_its_uuid(guest: GuestImage, tmp_path: Path) -> None:
    conf_path = write_demo_conf(tmp_path / "vm1", guest, "vm1", noacpi=True,
                                extra_append="ctys.ip=10.0.2.15/24")  # fmt: skip
    conf = load_vm_config(conf_path)
    assert conf.label == "vm1"
    assert conf.kernel == guest.kernel
    assert conf.initrd == guest.initrd
    assert conf.memsize_mb == 256
    assert conf.append is not None
    assert "ctys.noacpi=1" in conf.append.split()
    assert "ctys.ip=10.0.2.15/24" in conf.append.split()
    assert conf.uuid
    rewritten = load_vm_config(write_demo_conf(tmp_path / "vm1", guest, "vm1"))
    assert rewritten.uuid == conf.uuid
    assert rewritten.append is not None and "ctys.noacpi=1" not in rewritten.append


def test_demo_main_writes_conf(tmp_path: Path) -> None:
    env = {**os.environ, "CTYS_DEMO_DIR": str(tmp_path / "demo")}
    result = subprocess.run(
        [sys.executable, "-c",
         "import sys; from ctys.plugins.qemu.demo.cli import main; sys.exit(main())"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "demo" / "demo.conf").is_file()
    assert f"BASEPATH:{tmp_path / 'demo'}" in result.stdout
