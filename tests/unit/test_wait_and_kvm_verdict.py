"""WAIT:TEXT%SECONDS parsing, the WAIT loop's run-state watch, and the KVM verdict cache
(per boot of the host, with how it was reached; a failed KVM guest's verdict sticks)."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from ctys.errors import UsageError, VmError
from ctys.invocation import ActionCall, Suboption
from ctys.plugins.qemu.actions import waitready
from ctys.plugins.qemu.host import kernelprobe, kvmprobe
from ctys.plugins.qemu.host.capcache import CapCache
from ctys.plugins.qemu.host.kvmprobe import KvmState
from ctys.plugins.qemu.requests import parse_create
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.runstate import RunState
from ctys.plugins.qemu.vm.runtime import RuntimeDir


def _create(*args: str) -> ActionCall:
    subs = [Suboption("L", ("x",), "l:x"), Suboption("WAIT", args, "WAIT:" + "%".join(args))]
    return ActionCall("CREATE", tuple(subs))


def test_wait_text_alone_keeps_the_default_timeout() -> None:
    req = parse_create(_create("READY"))
    assert (req.wait_ready, req.wait_timeout) == ("READY", 120.0)


def test_wait_takes_seconds_after_percent() -> None:
    req = parse_create(_create("READY", "7.5"))
    assert (req.wait_ready, req.wait_timeout) == ("READY", 7.5)


@pytest.mark.parametrize("seconds", ["", "x", "0", "-1", "nan", "inf", "86401", "1e9"])
def test_bad_wait_seconds_are_a_usage_error(seconds: str) -> None:
    with pytest.raises(UsageError, match="WAIT"):
        parse_create(_create("READY", seconds))


def test_wait_with_an_empty_text_or_extra_parts_is_a_usage_error() -> None:
    for args in [("",), ("A", "1", "2")]:
        with pytest.raises(UsageError):
            parse_create(_create(*args))


def _rundir(tmp_path: Path) -> waitready.VmRuntimeDir:
    rundir = RuntimeDir(tmp_path / "rt").create_vm_dir("w-1")
    rundir.qemu_log.write_text("KVM internal error. Suberror: 1\nemulation failure\n")
    return rundir


def _vm(rundir: waitready.VmRuntimeDir, pid: int) -> VmHandle:
    return VmHandle(pid, rundir.qmp, rundir=rundir)


def test_wait_fails_soon_after_the_vm_enters_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    rundir = _rundir(tmp_path)
    states = iter([RunState.RUNNING, RunState.INTERNAL_ERROR])
    monkeypatch.setattr(VmHandle, "status", lambda self, timeout=1.0: next(states))
    # The VM runs until it is told to quit (the first rung of kill()'s ladder).
    sent: list[str] = []
    monkeypatch.setattr(VmHandle, "alive", lambda self: not sent)
    monkeypatch.setattr(
        VmHandle, "_execute", lambda self, cmd, args=None, timeout=3: sent.append(cmd)
    )
    started = time.monotonic()
    with pytest.raises(waitready.GuestFailed) as failed:
        waitready.wait_console_text(_vm(rundir, 4242), "NEVER", timeout=60, label="x")
    assert time.monotonic() - started < 2.0
    assert sent == ["quit"]
    # The handle that ended the VM removed its folder, not the caller.
    assert not rundir.path.exists()
    message = str(failed.value)
    assert "internal-error" in message and "KVM internal error. Suberror: 1" in message
    assert str(tmp_path / "state" / "ctys" / "logs" / "w-1" / "qemu.log") in message


def test_wait_timeout_is_honoured_and_leaves_the_vm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rundir = _rundir(tmp_path)
    monkeypatch.setattr(VmHandle, "status", lambda self, timeout=1.0: RunState.RUNNING)
    monkeypatch.setattr(VmHandle, "alive", lambda self: True)
    started = time.monotonic()
    with pytest.raises(VmError, match=r"within 0.3s \(the VM keeps running"):
        waitready.wait_console_text(_vm(rundir, 1), "NEVER", timeout=0.3, label="x")
    assert 0.3 <= time.monotonic() - started < 1.5
    assert rundir.path.exists()


def test_wait_returns_when_the_text_is_there(tmp_path: Path) -> None:
    rundir = _rundir(tmp_path)
    rundir.console_log.write_text("boot...\nREADY\n")
    waitready.wait_console_text(_vm(rundir, os.getpid()), "READY", timeout=5, label="x")


# ---- the KVM verdict: per boot, with its provenance


@pytest.fixture
def kvm_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str], list[str]]:
    monkeypatch.delenv("CTYS_ACCEL", raising=False)
    monkeypatch.setattr(kvmprobe, "check_dev_kvm", lambda device=None: None)
    boot = ["boot-a"]
    monkeypatch.setattr(kvmprobe, "boot_id", lambda: boot[0])
    probes: list[str] = []

    def fake_probe(binary: Path, deadline: float = 1.5, baseline: bool = True) -> KvmState:
        probes.append(str(binary))
        return KvmState(True, "KVM works (probe guest finished firmware POST in 0.10s)")

    monkeypatch.setattr(kvmprobe, "probe_kvm", fake_probe)
    monkeypatch.setattr(kernelprobe, "probe_kernel_image", lambda: None)  # firmware only
    binary = tmp_path / "qemu-system-x86_64"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    return binary, boot, probes


def test_the_verdict_says_how_it_was_reached(
    kvm_host: tuple[Path, list[str], list[str]], tmp_path: Path
) -> None:
    binary, _boot, probes = kvm_host
    cache = tmp_path / "c.json"
    fresh = kvmprobe.kvm_state(binary, CapCache(cache))
    assert fresh.usable and not fresh.confirmed
    assert fresh.how.startswith(kvmprobe.FIRMWARE_PROBE) and fresh.how.endswith("fresh")
    assert " UTC" in fresh.how
    cached = kvmprobe.kvm_state(binary, CapCache(cache))
    assert cached.how.endswith("cached for this boot of the host")
    assert len(probes) == 1


def test_a_failed_kvm_guest_makes_kvm_unusable_until_the_next_boot(
    kvm_host: tuple[Path, list[str], list[str]], tmp_path: Path
) -> None:
    binary, boot, probes = kvm_host
    cache = tmp_path / "c.json"
    state = kvmprobe.kvm_state(binary, CapCache(cache))
    kvmprobe.remember_guest_verdict(
        state, False, "a KVM guest (x) entered internal-error", CapCache(cache)
    )
    after = kvmprobe.kvm_state(binary, CapCache(cache))
    assert not after.usable and after.confirmed
    assert after.reason == "a KVM guest (x) entered internal-error"
    assert after.how.startswith(kvmprobe.GUEST_WATCH)
    assert len(probes) == 1  # no new probe in the same boot
    boot[0] = "boot-b"  # a reboot: the verdict is stale, the probe runs again
    again = kvmprobe.kvm_state(binary, CapCache(cache))
    assert again.usable and not again.confirmed and len(probes) == 2


def test_a_kvm_guest_that_survived_confirms_the_verdict(
    kvm_host: tuple[Path, list[str], list[str]], tmp_path: Path
) -> None:
    binary, _boot, _probes = kvm_host
    cache = tmp_path / "c.json"
    state = kvmprobe.kvm_state(binary, CapCache(cache))
    kvmprobe.remember_guest_verdict(state, True, state.reason, CapCache(cache))
    after = kvmprobe.kvm_state(binary, CapCache(cache))
    assert after.usable and after.confirmed and after.reason == state.reason


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_wait_shows_progress_only_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rundir = _rundir(tmp_path)
    monkeypatch.setattr(waitready, "STATE_EVERY", 0.05)
    monkeypatch.setattr(VmHandle, "status", lambda self, timeout=1.0: RunState.RUNNING)
    monkeypatch.setattr(VmHandle, "alive", lambda self: True)
    for stream, shown in [(_Tty(), True), (io.StringIO(), False)]:
        with pytest.raises(VmError):
            waitready.wait_console_text(_vm(rundir, 1), "NEVER", timeout=0.3, label="x", err=stream)
        assert ("waiting for 'NEVER'" in stream.getvalue()) is shown, stream.getvalue()


# ---- the kernel stage of the probe


def _seen(**kw: object) -> kernelprobe.KernelObservation:
    base: dict[str, object] = {
        "kernel": "/k",
        "status": "running",
        "entered_after": None,
        "exited": False,
        "error_line": "",
        "deadline": 3.0,
    }
    base.update(kw)
    return kernelprobe.KernelObservation(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seen", "usable", "words"),
    [
        (_seen(status="internal-error", entered_after=0.4), False, "internal-error"),
        (_seen(error_line="KVM internal error. Suberror: 1"), False, "Suberror: 1"),
        (_seen(entered_after=0.3, exited=True), True, "ran until its panic"),
        (_seen(entered_after=0.3), True, "kept running"),
        (_seen(), False, "printed nothing within 3s"),
        (_seen(exited=True, status=None), None, "qemu exited before"),
    ],
)
def test_judge_kernel(seen: kernelprobe.KernelObservation, usable: bool | None, words: str) -> None:
    verdict, why = kernelprobe.judge_kernel(seen)
    assert verdict is usable and words in why


@pytest.mark.parametrize(
    ("seen", "usable", "reason", "how"),
    [
        (
            _seen(status="internal-error", error_line="KVM internal error. Suberror: 1"),
            False,
            "64-bit Linux kernel entered QEMU's internal-error state",
            kvmprobe.KERNEL_PROBE,
        ),
        (
            _seen(entered_after=0.2, exited=True),
            True,
            "firmware POST in 0.10s); a 64-bit Linux kernel started",
            f"{kvmprobe.FIRMWARE_PROBE} + {kvmprobe.KERNEL_PROBE}",
        ),
    ],
)
def test_the_kernel_stage_decides_after_the_firmware_passed(
    kvm_host: tuple[Path, list[str], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    seen: kernelprobe.KernelObservation,
    usable: bool,
    reason: str,
    how: str,
) -> None:
    binary, _boot, _probes = kvm_host
    monkeypatch.setattr(kernelprobe, "probe_kernel_image", lambda: tmp_path / "vmlinuz")
    monkeypatch.setattr(kernelprobe, "probe_kernel", lambda b, k: seen)
    state = kvmprobe.kvm_state(binary, CapCache(tmp_path / "c.json"))
    assert state.usable is usable
    assert reason in state.reason
    assert state.how.startswith(how)


def test_a_vm_that_ends_during_the_wait_loses_its_folder_through_its_handle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    rundir = _rundir(tmp_path)
    dead = subprocess.Popen(["true"])
    dead.wait()
    with pytest.raises(VmError, match="ended before its console printed") as ended:
        waitready.wait_console_text(_vm(rundir, dead.pid), "NEVER", timeout=5, label="x")
    assert not rundir.path.exists()
    assert str(tmp_path / "state" / "ctys" / "logs" / "w-1" / "qemu.log") in str(ended.value)
