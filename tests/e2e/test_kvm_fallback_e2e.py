"""AUTO ends with a running guest when KVM cannot run it; WAIT fails fast on a dead VM."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kvmfault import fault_conf, require_kvm, seed_kvm_usable, write_fault_bios

from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.runstate import RunState
from support.cli import Ctys
from support.procs import live_qemu_pids


@pytest.fixture
def auto_ctys(ctys: Ctys, ctys_env: dict[str, str]) -> Ctys:
    """``ctys`` without the suite's CTYS_ACCEL=tcg: the VM's ACCELERATOR decides."""
    ctys_env.pop("CTYS_ACCEL", None)  # the dict the ctys fixture runs with
    return ctys


def _record(ctys_env: dict[str, str], label: str) -> dict[str, object]:
    [state] = Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob(f"{label}-*/state.json")
    data = json.loads(state.read_text())
    assert isinstance(data, dict)
    return data


def test_auto_restarts_a_guest_that_kvm_kills_under_tcg(
    auto_ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str], tmp_path: Path
) -> None:
    require_kvm()
    seed_kvm_usable()  # the firmware probe said "usable", as on the hosts of the issue
    fault_conf(make_vm("kf"), write_fault_bios(tmp_path / "fault.bin"), "AUTO")

    done = auto_ctys("-t", "QEMU", "-a", "CREATE=l:kf", "-b", "1")
    assert done.returncode == 0, done.stderr
    [line] = [ln for ln in done.stderr.splitlines() if "KVM is not usable" in ln]
    assert "a KVM guest (kf) entered QEMU's internal-error state" in line, line
    assert "KVM internal error" in line and "restarting it under TCG" in line, line
    assert "TCG, because KVM is not usable" in done.stdout, done.stdout
    record = _record(ctys_env, "kf")
    assert record["accelerator"] == "TCG"
    assert len(live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"])) == 1
    [qmp] = Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob("kf-*/qmp.sock")
    time.sleep(2.5)  # past the moment the firmware faults under KVM
    with VmHandle(0, qmp) as vm:
        assert vm.status() is RunState.RUNNING
    # The KVM guest's run was kept, with qemu's own words.
    kept = Path(ctys_env["XDG_STATE_HOME"], "ctys", "logs")
    assert any("KVM internal error" in p.read_text() for p in kept.glob("kf-*/qemu.log*"))

    info = auto_ctys("-t", "QEMU", "-a", "INFO", "-o", "json")
    assert info.returncode == 0, info.stderr
    assert "unusable: a KVM guest (kf) entered" in info.stdout, info.stdout
    assert "watch of a KVM guest's first seconds" in info.stdout, info.stdout
    assert "cached for this boot of the host" in info.stdout, info.stdout

    assert auto_ctys("-t", "QEMU", "-a", "CANCEL=l:kf,FORCE").returncode == 0
    # Remembered for this boot: the next CREATE goes to TCG at once, saying why.
    again = auto_ctys("-t", "QEMU", "-a", "CREATE=l:kf", "-b", "1")
    assert again.returncode == 0, again.stderr
    assert "restarting" not in again.stderr
    assert "TCG, because KVM is not usable: a KVM guest (kf)" in again.stdout, again.stdout
    assert auto_ctys("-t", "QEMU", "-a", "CANCEL=l:kf,FORCE").returncode == 0


def test_auto_default_on_this_host_boots_a_running_guest(
    auto_ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str]
) -> None:
    conf = make_vm("ka")
    conf.write_text(conf.read_text().replace("#@#ACCELERATOR = TCG\n", ""))  # the default
    done = auto_ctys(
        "-t", "QEMU", "-a", "CREATE=l:ka,WAIT:CTYS-GUEST-READY%90", "-b", "1", timeout=150
    )
    assert done.returncode == 0, done.stderr
    accel = _record(ctys_env, "ka")["accelerator"]
    if accel == "TCG":
        assert "TCG, because KVM is not usable: " in done.stdout, done.stdout
    assert auto_ctys("-t", "QEMU", "-a", "CANCEL=l:ka,FORCE").returncode == 0


def test_wait_fails_within_seconds_when_the_vm_enters_internal_error(
    auto_ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str], tmp_path: Path
) -> None:
    require_kvm()
    seed_kvm_usable()
    fault_conf(make_vm("kw"), write_fault_bios(tmp_path / "fault.bin"), "KVM")
    started = time.monotonic()
    done = auto_ctys("-t", "QEMU", "-a", "CREATE=l:kw,WAIT:NEVER-PRINTED%100", "-b", "1")
    took = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert took < 10, took
    [line] = done.stderr.splitlines()
    assert "entered QEMU's internal-error state" in line, line
    kept = Path(ctys_env["XDG_STATE_HOME"], "ctys", "logs")
    [log] = kept.glob("kw-*/qemu.log")
    assert str(log) in line, line
    assert "KVM internal error" in log.read_text()
    assert live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"]) == []
    assert not list(Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob("kw-*"))


def test_wait_timeout_in_seconds_is_honoured(ctys: Ctys, make_vm: Callable[..., Path]) -> None:
    make_vm("kt")
    started = time.monotonic()
    done = ctys("-t", "QEMU", "-a", "CREATE=l:kt,WAIT:NEVER-PRINTED%3", "-b", "1")
    took = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert "did not print 'NEVER-PRINTED' within 3s" in done.stderr, done.stderr
    assert 3 <= took < 20, took
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:kt,FORCE").returncode == 0


@pytest.mark.parametrize("seconds", ["x", "0", "-5", "nan"])
def test_bad_wait_seconds_is_a_usage_error(
    ctys: Ctys, make_vm: Callable[..., Path], seconds: str
) -> None:
    make_vm("kb")
    done = ctys("-t", "QEMU", "-a", f"CREATE=l:kb,WAIT:READY%{seconds}", "-b", "1")
    assert done.returncode == 2, done.stderr
    assert "WAIT" in done.stderr


def test_kernel_probe_sees_a_64_bit_kernel_start(guest: object) -> None:
    # Under TCG (where it always works) the probe kernel starts, panics without a root
    # disk and qemu exits: the observation the KVM kernel probe relies on.
    import shutil

    from ctys.plugins.qemu.host.kernelprobe import judge_kernel, probe_kernel, probe_kernel_image

    kernel = probe_kernel_image()
    binary = shutil.which("qemu-system-x86_64")
    assert kernel is not None and binary is not None
    seen = probe_kernel(Path(binary), kernel, accel="tcg", deadline=20)
    assert seen.entered_after is not None, seen
    usable, why = judge_kernel(seen)
    assert usable is True and "64-bit Linux kernel started" in why, why


def test_info_says_how_the_kvm_verdict_was_reached(auto_ctys: Ctys) -> None:
    require_kvm()
    fresh = auto_ctys("-t", "QEMU", "-a", "INFO", "-o", "json")
    assert fresh.returncode == 0, fresh.stderr
    assert "probe, " in fresh.stdout and ", fresh]" in fresh.stdout, fresh.stdout
    cached = auto_ctys("-t", "QEMU", "-a", "INFO", "-o", "json")
    assert ", cached for this boot of the host]" in cached.stdout, cached.stdout
