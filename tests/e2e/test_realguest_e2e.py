"""A real system guest under TCG: a debootstrapped Debian 12 (systemd, sshd, the QEMU guest
agent) booted from its partitioned disk with ``BOOTMODE:HDD``.

At most one real guest runs at a time (a lock beside the cached image): one class-scoped
guest for the assertions that leave it running (serial login prompt, ssh through
HOSTFWD, LIST's agent address, PAUSE/RESUME, REBOOT), and one boot per CANCEL ladder test.
Booted: 3 times, plus one reboot.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ctys.consoles.serial import SerialConsole
from ctys.plugins.qemu.demo.realvm import LOGIN_PROMPT, ssh_argv
from ctys.plugins.qemu.images.realsystem import RealGuestImage
from support.cli import run_ctys
from support.procs import live_qemu_pids
from support.realguest import real_guest_folder
from support.rows import list_rows

BOOT_TIMEOUT = 300.0  # TCG on a loaded 2-CPU machine; about 40 s when it is idle
# systemd's orderly power-off, as the guest prints it on its console.
POWER_OFF = re.compile(rb"Reached target .*Power Off|reboot: Power down")

pytestmark = pytest.mark.timeout(900)


@dataclass
class RealVm:
    """A booted real guest: its env, ssh forward and console socket."""

    env: dict[str, str]
    image: RealGuestImage
    label: str
    port: int
    boot_seconds: float

    def ctys(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_ctys(*args, env=self.env, timeout=timeout)

    @property
    def runtime(self) -> str:
        return self.env["CTYS_RUNTIME_DIR"]

    def console_socket(self) -> Path:
        [sock] = Path(self.runtime, "vms").glob(f"{self.label}-*/console.sock")
        return sock

    def kept_console_log(self) -> bytes:
        """The console log of the VM's last run, kept after it ended."""
        [log] = Path(self.env["XDG_STATE_HOME"], "ctys", "logs").glob(f"{self.label}-*/console.log")
        return log.read_bytes()

    def ssh(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``command`` in the guest, retrying while sshd is not up yet (a refused or
        stalled connection) until ``timeout`` has passed."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                done = subprocess.run(
                    ssh_argv(self.image, self.port, *command),
                    capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                    check=False,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                # QEMU's port forward takes the connection before the guest's sshd can
                # answer it: under TCG and load a first handshake may stall. Try again.
                if time.monotonic() > deadline:
                    raise
                continue
            if done.returncode != 255 or time.monotonic() > deadline:  # 255: ssh itself
                return done
            time.sleep(0.5)


@contextlib.contextmanager
def booted(real_image: RealGuestImage, label: str, *, guest_agent: bool) -> Iterator[RealVm]:
    """Boot a real guest in a private environment, wait for its serial login prompt, and
    kill whatever is left of it at the end."""
    with real_guest_folder(real_image, label, guest_agent=guest_agent) as folder:
        started = time.monotonic()
        vm = RealVm(folder.env, real_image, label, folder.port, 0.0)
        done = vm.ctys("-t", "QEMU", "-a", f"CREATE=l:{label},BOOTMODE:HDD", "-b", "1")
        assert done.returncode == 0, done.stderr
        with SerialConsole(vm.console_socket(), timeout=BOOT_TIMEOUT) as console:
            console.read_until(LOGIN_PROMPT.encode())
        vm.boot_seconds = time.monotonic() - started
        print(f"{label}: CREATE -> login prompt {vm.boot_seconds:.1f}s")
        yield vm


class TestRunningGuest:
    """Assertions that leave the guest running, on one guest."""

    @pytest.fixture(scope="class")
    @classmethod
    def vm(cls, real_image: RealGuestImage) -> Iterator[RealVm]:
        with booted(real_image, "real", guest_agent=True) as vm:
            yield vm

    def test_boots_from_its_disk_to_the_serial_login_prompt(self, vm: RealVm) -> None:
        assert vm.boot_seconds < BOOT_TIMEOUT
        # The prompt is there again on a fresh attach (getty redraws it on Enter).
        with SerialConsole(vm.console_socket(), timeout=30) as console:
            console.send_line("")
            console.read_until(LOGIN_PROMPT.encode())
        [row] = list_rows(vm.ctys, vm.runtime)
        assert str(row["ACCEL"]).upper() == "TCG"

    def test_ssh_through_hostfwd(self, vm: RealVm) -> None:
        done = vm.ssh("cat /etc/debian_version; systemctl is-system-running --wait")
        assert done.returncode == 0, done.stderr
        version, state = done.stdout.split()
        assert version.startswith("12.")
        assert state == "running"

    def test_list_shows_the_agents_address_with_the_forwards(self, vm: RealVm) -> None:
        wanted = f"10.0.2.15 (user-mode 127.0.0.1:{vm.port}->22/tcp)"
        deadline = time.monotonic() + 60
        while True:  # the agent answers once its unit has started
            [row] = list_rows(vm.ctys, vm.runtime)
            if row["IP"] == wanted or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert row["IP"] == wanted

    def test_pause_then_resume_without_a_console(self, vm: RealVm) -> None:
        paused = vm.ctys("-t", "QEMU", "-a", "CANCEL=l:real,PAUSE")
        assert paused.returncode == 0, paused.stderr
        assert "paused" in paused.stdout
        [row] = list_rows(vm.ctys, vm.runtime)
        assert row["STATE"] == "paused"
        started = time.monotonic()
        resumed = vm.ctys("-t", "QEMU", "-a", "CREATE=l:real,RESUME", timeout=30)
        assert resumed.returncode == 0, resumed.stderr
        assert resumed.stdout == "real: resumed\n"  # no console output: nothing attached
        assert time.monotonic() - started < 20
        assert vm.ssh("true").returncode == 0
        again = vm.ctys("-t", "QEMU", "-a", "CREATE=l:real,RESUME")
        assert "nothing to resume" in again.stdout

    def test_reboot_in_the_same_qemu(self, vm: RealVm) -> None:
        before = vm.ssh("cat /proc/sys/kernel/random/boot_id")
        assert before.returncode == 0, before.stderr
        [pid] = live_qemu_pids(vm.runtime)
        # No console is attached meanwhile: one that is not read stalls the guest's serial
        # output (QEMU's socket backend blocks), and with it systemd's shutdown.
        done = vm.ctys("-t", "QEMU", "-a", "CANCEL=l:real,REBOOT,TIMEOUT:120", timeout=200)
        assert done.returncode == 0, done.stderr
        assert "rebooted (guest shut down, machine reset)" in done.stdout
        with SerialConsole(vm.console_socket(), timeout=BOOT_TIMEOUT) as console:
            console.read_until(LOGIN_PROMPT.encode())
        after = vm.ssh("cat /proc/sys/kernel/random/boot_id")
        assert after.returncode == 0, after.stderr
        assert after.stdout != before.stdout
        assert live_qemu_pids(vm.runtime) == [pid]


class TestCancelLadder:
    """CANCEL of a real guest, with and without its agent (one boot each). The guest's
    orderly power-off is read afterwards from the kept console log (an attached console
    that is not read would stall the guest's serial output)."""

    @pytest.mark.parametrize(
        ("label", "guest_agent", "how"),
        [
            ("realga", True, "powered off by the guest agent (guest-shutdown)"),
            ("realacpi", False, "powered off by the guest (ACPI)"),
        ],
    )
    def test_cancel_is_an_orderly_power_off(
        self, real_image: RealGuestImage, label: str, guest_agent: bool, how: str
    ) -> None:
        with booted(real_image, label, guest_agent=guest_agent) as vm:
            # Fully up: the agent runs, logind watches the power button.
            agent = vm.ssh("systemctl is-active qemu-guest-agent").stdout.strip()
            assert agent == ("active" if guest_agent else "inactive")
            done = vm.ctys("-t", "QEMU", "-a", f"CANCEL=l:{label},TIMEOUT:60", timeout=120)
            assert done.returncode == 0, done.stderr
            assert how in done.stdout
            assert "tried first" not in done.stdout  # the first step worked
            assert POWER_OFF.search(vm.kept_console_log())
            assert live_qemu_pids(vm.runtime) == []
