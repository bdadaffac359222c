"""CANCEL of the real Debian guest (systemd, sshd, the guest agent) under TCG, on one boot:
SUSPEND|S4 into its qcow2 disk (``savevm S4``) and CREATE=...,RESUME (the same boot, the
same processes, run on), then INIT:6 through the guest agent (a reboot inside the same
qemu). Booted: once, plus one reboot."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from test_realguest_e2e import BOOT_TIMEOUT, RealVm, booted

from ctys.consoles.serial import SerialConsole
from ctys.plugins.qemu.demo.realvm import LOGIN_PROMPT
from ctys.plugins.qemu.images.realsystem import RealGuestImage
from support.procs import live_qemu_pids

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]


def _boot_id(vm: RealVm) -> str:
    done = vm.ssh("cat /proc/sys/kernel/random/boot_id", timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_init_suspend_resume_and_reboot_of_a_real_guest(real_image: RealGuestImage) -> None:
    with booted(real_image, "rcan", guest_agent=True) as vm:
        boot = _boot_id(vm)
        # A process of the guest, to find again after the restore.
        sleeper = vm.ssh("nohup sleep 100000 >/dev/null 2>&1 & echo $!")
        assert sleeper.returncode == 0, sleeper.stderr
        pid = sleeper.stdout.strip()

        started = time.monotonic()
        saved = vm.ctys("-t", "QEMU", "-a", "CANCEL=l:rcan,SUSPEND", timeout=400)
        assert saved.returncode == 0, saved.stderr
        assert "rcan: suspended: state saved (snapshot S4 in its qcow2 disk)" in saved.stdout
        print(f"SUSPEND of the real guest: {time.monotonic() - started:.1f}s")
        assert live_qemu_pids(vm.runtime) == []
        disk = Path(vm.env["CTYS_VMPATH"]) / "rcan" / "rcan.qcow2"
        snapshots = subprocess.run(
            ["qemu-img", "snapshot", "-l", str(disk)], capture_output=True, text=True, check=True
        )
        assert " S4 " in snapshots.stdout

        started = time.monotonic()
        resumed = vm.ctys("-t", "QEMU", "-a", "CREATE=l:rcan,RESUME", timeout=400)
        assert resumed.returncode == 0, resumed.stderr
        assert resumed.stdout.startswith("rcan: resumed from its saved state (pid ")
        print(f"RESUME of the real guest: {time.monotonic() - started:.1f}s")
        assert _boot_id(vm) == boot  # the same boot, run on
        alive = vm.ssh(f"kill -0 {pid} && echo alive")
        assert alive.stdout.strip() == "alive", (alive.stdout, alive.stderr)
        [qemu] = live_qemu_pids(vm.runtime)

        # INIT:6 through the agent (it answers once its unit runs): the guest reboots
        # itself, in the same qemu. (INIT:3 would isolate multi-user.target, which stops
        # the agent itself: it is started by its device, not wanted by that target.)
        deadline = time.monotonic() + 120
        while True:
            reboot = vm.ctys("-t", "QEMU", "-a", "CANCEL=l:rcan,INIT:6")
            if reboot.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert reboot.returncode == 0, reboot.stderr
        assert reboot.stdout == (
            "rcan: run level 6 asked for (telinit 6, through the guest agent)\n"
        )
        with SerialConsole(vm.console_socket(), timeout=BOOT_TIMEOUT) as console:
            console.read_until(LOGIN_PROMPT.encode())
        assert _boot_id(vm) != boot
        assert live_qemu_pids(vm.runtime) == [qemu]
