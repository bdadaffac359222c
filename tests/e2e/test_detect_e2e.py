"""QEMU detection against the real host: the installed binaries and a real KVM probe."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import psutil
import pytest

from ctys.plugins.qemu.host import detect, kvmprobe
from ctys.plugins.qemu.host.capcache import CapCache
from ctys.plugins.qemu.host.detect import (
    binary_for_arch,
    detect_host,
    find_qemu_binaries,
    probe_binary,
)
from ctys.plugins.qemu.host.kvmprobe import (
    KvmState,
    check_dev_kvm,
    choose_accelerator,
    kvm_state,
    probe_kvm,
)
from ctys.plugins.qemu.vmconfig import Accelerator

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("qemu-system-x86_64") is None, reason="qemu-system-x86_64 not installed"
    ),
]


def _qemu_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if "qemu" in p.name()]


def test_real_binary_capabilities() -> None:
    binary = Path(shutil.which("qemu-system-x86_64") or "").resolve()
    assert binary in find_qemu_binaries()
    caps = probe_binary(binary)
    banner = subprocess.run([str(binary), "-version"], capture_output=True, text=True, check=True)
    assert caps.version in banner.stdout
    assert caps.arch == "x86_64"
    assert {"q35", "pc"} <= set(caps.machines)
    assert caps.default_machine in caps.machines
    assert "tcg" in caps.accelerators
    assert {"-qmp", "-vnc", "-daemonize", "-pidfile", "-chardev", "-accel", "-display"} <= (
        caps.options
    )
    assert "none" in caps.displays


# Every verdict the firmware probe (kvmprobe.judge_probe) can reach, and whether it lets KVM be
# used. The probe's speed is measured in bench/kvm_probe.py, not asserted here.
_PROBE_VERDICTS = [
    (False, r"KVM internal error in the probe guest \(.+\)"),
    (False, r"qemu could not run a KVM guest: .+"),
    (True, r"KVM works \(probe guest finished firmware POST in \d+\.\d\ds\)"),
    (False, r"KVM guests run slower than TCG emulation \(firmware POST unfinished after .+"),
    (True, r"KVM guest running \(firmware progress not measurable\)"),
    (False, r"KVM probe guest did not answer on QMP"),
    (False, r"KVM probe guest is in state '.+'"),
]


def _verdict_form(reason: str) -> bool:
    """Whether the verdict ``reason`` lets KVM be used, by the one form it must have."""
    forms = [usable for usable, form in _PROBE_VERDICTS if re.fullmatch(form, reason)]
    assert len(forms) == 1, f"not one probe verdict: {reason!r}"
    return forms[0]


def test_real_kvm_probe_explains_itself_and_leaves_no_guest() -> None:
    binary = Path(shutil.which("qemu-system-x86_64") or "").resolve()
    device_problem = check_dev_kvm()
    if device_problem is not None:
        assert not device_problem.usable
        assert re.fullmatch(
            r"/dev/kvm does not exist \(.+\)|cannot open /dev/kvm read-write: .+",
            device_problem.reason,
        )
        return
    state = probe_kvm(binary)
    assert _verdict_form(state.reason) is state.usable
    assert _qemu_children() == []  # probe guests are killed and reaped


def test_detect_host_end_to_end_with_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache_path = tmp_path / "qemu-caps.json"
    host = detect_host(cache=CapCache(cache_path))
    x86 = binary_for_arch(host, "x86_64")
    assert x86.variant == ""  # the plain binary, not the microvm one
    assert cache_path.exists()

    # The cache spares all probing: a second detection must not run a single qemu.
    def no_probe(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError(f"probed again despite the cache: {args}")

    monkeypatch.setattr(detect, "probe_binary", no_probe)
    monkeypatch.setattr(kvmprobe, "probe_kvm", no_probe)
    again = detect_host(cache=CapCache(cache_path))
    assert again == host
    accel, note = choose_accelerator(Accelerator.AUTO, host.kvm)
    if host.kvm.usable:
        assert (accel, note) == (Accelerator.KVM, f"KVM ({host.kvm.reason})")
    else:
        assert accel is Accelerator.TCG
        assert note == f"TCG, because KVM is not usable: {host.kvm.reason}"
    assert host.kvm.reason.strip() and "\n" not in host.kvm.reason


def test_kvm_state_honours_ctys_accel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CTYS_ACCEL", "tcg")
    monkeypatch.setattr(kvmprobe, "probe_kvm", lambda *a, **k: pytest.fail("probed"))
    monkeypatch.setattr(kvmprobe, "check_dev_kvm", lambda *a, **k: pytest.fail("opened /dev/kvm"))
    binary = Path(shutil.which("qemu-system-x86_64") or "").resolve()
    state = kvm_state(binary, CapCache(tmp_path / "c.json"))
    assert state == KvmState(False, "KVM disabled by the user (CTYS_ACCEL=tcg)")
