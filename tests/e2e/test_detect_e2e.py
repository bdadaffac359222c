"""QEMU detection against the real host: the installed binaries and a real KVM probe."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from ctys.conf.vmtypes import Accelerator
from ctys.plugins.qemu.host.capcache import CapCache
from ctys.plugins.qemu.host.detect import (
    binary_for_arch,
    detect_host,
    find_qemu_binaries,
    probe_binary,
)
from ctys.plugins.qemu.host.kvmprobe import check_dev_kvm, choose_accelerator, kvm_state, probe_kvm

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


def test_real_kvm_probe_is_fast_and_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    binary = Path(shutil.which("qemu-system-x86_64") or "").resolve()
    device_problem = check_dev_kvm()
    started = time.monotonic()
    state = device_problem or probe_kvm(binary)
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(f"\nKVM probe: usable={state.usable} in {elapsed:.2f}s: {state.reason}")
    assert state.reason.strip()
    assert elapsed < 5.0
    assert _qemu_children() == []  # probe guests are killed and reaped
    if not state.usable and device_problem is None:
        # the probe ran and rejected KVM: it must say how (a guest error, or too slow)
        assert any(word in state.reason for word in ("internal error", "slower than TCG", "kvm"))


def test_detect_host_end_to_end_with_cache(tmp_path: Path) -> None:
    cache_path = tmp_path / "qemu-caps.json"
    started = time.monotonic()
    host = detect_host(cache=CapCache(cache_path))
    first = time.monotonic() - started
    x86 = binary_for_arch(host, "x86_64")
    assert x86.variant == ""  # the plain binary, not the microvm one
    assert host.kvm.reason
    assert cache_path.exists()

    started = time.monotonic()
    again = detect_host(cache=CapCache(cache_path))
    second = time.monotonic() - started
    assert again == host
    assert second < first / 3  # the cache spares all probing
    accel, note = choose_accelerator(Accelerator.AUTO, host.kvm)
    assert accel is (Accelerator.KVM if host.kvm.usable else Accelerator.TCG)
    assert note


def test_kvm_state_honours_ctys_accel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CTYS_ACCEL", "tcg")
    binary = Path(shutil.which("qemu-system-x86_64") or "").resolve()
    started = time.monotonic()
    state = kvm_state(binary, CapCache(tmp_path / "c.json"))
    assert time.monotonic() - started < 0.2
    assert not state.usable and "CTYS_ACCEL" in state.reason
