"""CANCEL: which VM (runtime records first, foreign qemus of ours), how (ACPI skipped for
states that cannot answer it) and how many at once (issue 9, points 6, 9 and 12)."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ctys.address.model import AddressKind, MachineAddress, MachineSelector
from ctys.address.vmid import vm_id
from ctys.argscan import parse_action, scan_argv
from ctys.errors import AddressError, VmStateError
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions import cancel, foreign
from ctys.plugins.qemu.actions.cancel import CancelOutcome, Target, run_cancel
from ctys.plugins.qemu.actions.find_running import find_running
from ctys.plugins.qemu.actions.foreign import ForeignScan, ForeignVm
from ctys.plugins.qemu.cancelreq import CancelRequest, parse_cancel
from ctys.plugins.qemu.vm.cmdline import parse_qemu_cmdline
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.lifecycle import StopHow, StopResult
from ctys.plugins.qemu.vm.processes import QemuProcess
from ctys.plugins.qemu.vm.runstate import RunState
from ctys.plugins.qemu.vm.runtime import RuntimeDir, RuntimeRecord

QEMU = "qemu-system-x86_64"
CONF = "#@#MAGICID-QEMU\n#@#LABEL = {label}\n#@#UUID = {uuid}\nKERNEL=vmlinuz\n"


@pytest.fixture
def alive(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every runtime record counts as a living qemu (no real process needed)."""
    from ctys.plugins.qemu.vm import runtime

    def living(pid: int | None, rundir: object, snapshot: object = None) -> QemuProcess | None:
        return None if pid is None else QemuProcess(pid, "me", 0.0, parse_qemu_cmdline([QEMU]))

    monkeypatch.setattr(runtime, "living_qemu", living)


def _start(runtime: RuntimeDir, conf: Path, label: str, uuid: str, pid: int) -> str:
    """The runtime folder CREATE leaves for a VM started from ``conf``."""
    vmid = vm_id(label, conf)
    rundir = runtime.create_vm_dir(vmid)
    rundir.write_record(
        RuntimeRecord(
            vmid=vmid, label=label, conf=str(conf), uuid=uuid, mac="52:54:00:12:34:56", pid=pid
        )
    )
    return vmid


def _conf(folder: Path, label: str, uuid: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{label}.conf"
    path.write_text(CONF.format(label=label, uuid=uuid))
    return path


def sel(*terms: tuple[AddressKind, str]) -> MachineSelector:
    return MachineSelector(tuple(MachineAddress(k, v) for k, v in terms))


def ctx_for(action: str) -> tuple[RunContext, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return RunContext(scan_argv(["-t", "QEMU", "-a", action]), out, err), out, err


# --- point 6: records first ------------------------------------------------------------


def test_running_vm_with_conf_outside_the_vm_folders_is_found_by_every_address(
    ctys_env: dict[str, str], short_tmp: Path, alive: None
) -> None:
    runtime = RuntimeDir()
    conf = _conf(short_tmp / "elsewhere", "x", "11111111-0000-4000-8000-000000000001")
    vmid = _start(runtime, conf, "x", "11111111-0000-4000-8000-000000000001", 4242)
    inventory = Path(ctys_env["CTYS_INVENTORY"])
    for term in [
        (AddressKind.LABEL, "x"),
        (AddressKind.UUID, "11111111-0000-4000-8000-000000000001"),
        (AddressKind.MAC, "52-54-00-12-34-56"),
        (AddressKind.FILENAME, str(conf)),
        (AddressKind.VMID, vmid),
        (AddressKind.ID, str(conf)),
    ]:
        found, vm = find_running(runtime, sel(term), inventory, io.StringIO())
        assert found is not None and found.pid == 4242, term
        assert vm is None  # the record answered: no inventory, no scan


def test_label_edited_since_start_finds_the_vm_by_old_and_new_label(
    ctys_env: dict[str, str], alive: None
) -> None:
    runtime = RuntimeDir()
    folder = Path(ctys_env["CTYS_VMPATH"]) / "web"
    conf = _conf(folder, "web", "22222222-0000-4000-8000-000000000002")
    _start(runtime, conf, "web", "22222222-0000-4000-8000-000000000002", 4343)
    conf.write_text(CONF.format(label="www", uuid="22222222-0000-4000-8000-000000000002"))
    old, _ = find_running(runtime, sel((AddressKind.LABEL, "web")), None)
    new, vm = find_running(runtime, sel((AddressKind.LABEL, "www")), None)
    assert old is not None and new is not None and old.pid == new.pid == 4343
    assert vm is not None and vm.label == "www"


def test_two_running_vms_matching_is_ambiguous(ctys_env: dict[str, str], alive: None) -> None:
    runtime = RuntimeDir()
    root = Path(ctys_env["CTYS_VMPATH"])
    _start(runtime, _conf(root / "a", "dup", "u-1"), "dup", "u-1", 1)
    _start(runtime, _conf(root / "b", "dup", "u-2"), "dup", "u-2", 2)
    with pytest.raises(AddressError, match="ambiguous, 2 running VMs"):
        find_running(runtime, sel((AddressKind.LABEL, "dup")), None)


# --- point 12: ACPI skipped, parallel, one at a time -------------------------------------


def test_cancel_skips_acpi_for_a_paused_vm(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(VmHandle, "alive", lambda self: True)
    monkeypatch.setattr(VmHandle, "status", lambda self, timeout=2.0: RunState.PAUSED)

    def never(*args: object) -> StopResult:
        raise AssertionError("ACPI must not be tried on a paused VM")

    def force(self: VmHandle) -> StopResult:
        calls.append("quit")
        return StopResult(StopHow.QUIT, 0.1)

    monkeypatch.setattr(VmHandle, "poweroff", never)
    monkeypatch.setattr(VmHandle, "kill", force)
    target = Target("p", 1, short_tmp / "q.sock")
    outcome = cancel.cancel_target(target, parse_cancel(parse_action("CANCEL=l:p,TIMEOUT:30")))
    assert calls == ["quit"]
    assert outcome.message.startswith("stopped by QEMU quit; ACPI skipped: the VM is paused")


def test_cancel_all_stops_vms_in_parallel(
    ctys_env: dict[str, str], alive: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = RuntimeDir()
    root = Path(ctys_env["CTYS_VMPATH"])
    for n in range(3):
        _start(runtime, _conf(root / f"v{n}", f"v{n}", f"u-{n}"), f"v{n}", f"u-{n}", 100 + n)
    monkeypatch.setattr(cancel, "foreign_vms", lambda claimed: ForeignScan((), 0))
    # Each stop waits for the other two to have begun: done one after the other, the
    # barrier breaks (BrokenBarrierError) instead.
    barrier = threading.Barrier(3, timeout=10)

    def stop(target: Target, req: CancelRequest) -> CancelOutcome:
        barrier.wait()
        return CancelOutcome(target.label, "stopped")

    monkeypatch.setattr(cancel, "cancel_target", stop)
    ctx, out, err = ctx_for("CANCEL=ALL")
    assert run_cancel(parse_cancel(parse_action("CANCEL=ALL")), ctx, runtime) == 0, err.getvalue()
    assert sorted(out.getvalue().splitlines()) == [f"v{n}: stopped" for n in range(3)]


def test_cancel_all_says_how_many_foreign_qemus_it_left_alone(
    ctys_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = QemuProcess(7, "me", 0.0, parse_qemu_cmdline(["qemu-system-x86_64", "-name", "h"]))
    monkeypatch.setattr(
        cancel, "foreign_vms", lambda claimed: ForeignScan((ForeignVm(proc, "h"),), 2)
    )
    ctx, out, _ = ctx_for("CANCEL=ALL")
    assert run_cancel(parse_cancel(parse_action("CANCEL=ALL")), ctx, RuntimeDir()) == 0
    assert out.getvalue().splitlines() == [
        "left 3 qemu(s) not started by ctys alone: 1 of yours"
        " (CANCEL=l:LABEL or VMID:PID stops one), 2 of other users",
        "no running VMs to cancel",
    ]


# --- point 9: foreign qemus of ours ------------------------------------------------------


def _foreign(monkeypatch: pytest.MonkeyPatch, *argv: str, pid: int = 31337) -> None:
    proc = QemuProcess(pid, "me", 0.0, parse_qemu_cmdline(["qemu-system-x86_64", *argv]))
    monkeypatch.setattr(
        cancel,
        "foreign_vms",
        lambda claimed: ForeignScan((ForeignVm(proc, proc.cmdline.name or ""),), 0),
    )


@pytest.mark.parametrize("address", ["l:hand", "VMID:31337"])
def test_foreign_qemu_without_qmp_needs_force(
    ctys_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    _foreign(monkeypatch, "-name", "hand")
    ctx, _out, err = ctx_for(f"CANCEL={address}")
    req = parse_cancel(parse_action(f"CANCEL={address}"))
    assert run_cancel(req, ctx, RuntimeDir()) == 1
    [line] = err.getvalue().splitlines()
    assert "hand: failed: VM hand (pid 31337) was not started by ctys and names no QMP" in line
    assert "FORCE" in line


def test_foreign_qemu_without_qmp_is_signalled_with_force(
    ctys_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _foreign(monkeypatch, "-name", "hand")
    signalled: list[int] = []

    def by_signal(self: VmHandle, timeout: float) -> StopResult:
        assert not self.monitored  # the handle's ladder for signals alone
        signalled.append(self.pid)
        return StopResult(StopHow.TERM, 0.2)

    monkeypatch.setattr(VmHandle, "shutdown", by_signal)
    ctx, out, _err = ctx_for("CANCEL=l:hand,FORCE")
    assert run_cancel(parse_cancel(parse_action("CANCEL=l:hand,FORCE")), ctx, RuntimeDir()) == 0
    assert signalled == [31337]
    assert out.getvalue() == "hand: stopped by SIGTERM (0.2s)\n"


def test_foreign_qemu_with_qmp_is_powered_off_through_it(
    ctys_env: dict[str, str], short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock = short_tmp / "m.sock"
    sock.touch()
    _foreign(monkeypatch, "-name", "hand", "-qmp", f"unix:{sock},server,nowait")
    monkeypatch.setattr(VmHandle, "alive", lambda self: True)
    monkeypatch.setattr(VmHandle, "status", lambda self, timeout=2.0: RunState.RUNNING)
    seen: list[Path] = []

    def poweroff(self: VmHandle, timeout: float) -> StopResult:
        seen.append(self.qmp)
        return StopResult(StopHow.ACPI, 1.0)

    monkeypatch.setattr(VmHandle, "poweroff", poweroff)
    ctx, out, _err = ctx_for("CANCEL=l:hand")
    assert run_cancel(parse_cancel(parse_action("CANCEL=l:hand")), ctx, RuntimeDir()) == 0
    assert seen == [sock]
    assert out.getvalue().startswith("hand: powered off by the guest (ACPI)")


def test_another_users_qemu_is_never_a_target(
    ctys_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = QemuProcess(1, "root", 0.0, parse_qemu_cmdline(["qemu-system-x86_64", "-name", "r"]))
    monkeypatch.setattr(foreign, "_is_ours", lambda pid: False)
    scan = foreign.foreign_vms(set(), [proc])
    assert scan.ours == () and scan.others == 1
    ctx, _, _ = ctx_for("CANCEL=l:r")
    with pytest.raises((AddressError, VmStateError)):
        run_cancel(parse_cancel(parse_action("CANCEL=l:r")), ctx, RuntimeDir())


_IGNORES_TERM = (
    "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    " print(1, flush=True); time.sleep(60)"
)


def _by_signal(pid: int, timeout: float) -> StopResult:
    with VmHandle.attach_foreign(pid, qmp=None) as vm:
        return vm.shutdown(timeout)


def test_stop_by_signal_terms_then_kills() -> None:
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stubborn = subprocess.Popen(
        [sys.executable, "-c", _IGNORES_TERM], stdout=subprocess.PIPE, text=True
    )
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline() == "1\n"
        assert _by_signal(polite.pid, 5.0).how is StopHow.TERM
        started = time.monotonic()
        assert _by_signal(stubborn.pid, 0.3).how is StopHow.KILL
        assert time.monotonic() - started < 5
        assert _by_signal(polite.pid, 1.0).how is StopHow.GONE
    finally:
        for p in (polite, stubborn):
            p.kill()
            p.wait()


def test_ambiguous_running_vms_are_not_taken_for_a_foreign_qemu(
    ctys_env: dict[str, str], alive: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = RuntimeDir()
    root = Path(ctys_env["CTYS_VMPATH"])
    _start(runtime, _conf(root / "a", "dup", "u-1"), "dup", "u-1", 1)
    _start(runtime, _conf(root / "b", "dup", "u-2"), "dup", "u-2", 2)
    _foreign(monkeypatch, "-name", "dup")
    ctx, _, _ = ctx_for("CANCEL=l:dup")
    with pytest.raises(AddressError, match="ambiguous, 2 running VMs"):
        run_cancel(parse_cancel(parse_action("CANCEL=l:dup")), ctx, runtime)


def test_pause_of_a_foreign_qemu_without_qmp_is_one_line(
    ctys_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _foreign(monkeypatch, "-name", "hand")
    monkeypatch.setattr(cancel.lifecycle, "process_alive", lambda pid: True)
    ctx, _, err = ctx_for("CANCEL=l:hand,PAUSE")
    assert run_cancel(parse_cancel(parse_action("CANCEL=l:hand,PAUSE")), ctx, RuntimeDir()) == 1
    assert err.getvalue() == (
        "hand: failed: VM hand (pid 31337) names no QMP socket;"
        " only POWEROFF (with FORCE: by signal) can stop it\n"
    )


# --- issue 13: the original's CANCEL: flags, -n, SELF, the block form ---------------------


def _one_vm(ctys_env: dict[str, str]) -> RuntimeDir:
    runtime = RuntimeDir()
    conf = _conf(Path(ctys_env["CTYS_VMPATH"]) / "b1", "b1", "u-b1")
    _start(runtime, conf, "b1", "u-b1", 4711)
    return runtime


def test_dry_run_says_what_would_happen_and_does_nothing(
    ctys_env: dict[str, str], alive: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    runtime = _one_vm(ctys_env)

    def never(*args: object) -> CancelOutcome:
        raise AssertionError("-n must not act on a VM")

    monkeypatch.setattr(cancel, "cancel_target", never)
    monkeypatch.setattr(cancel, "foreign_vms", lambda claimed: ForeignScan((), 0))
    from ctys.plugins.qemu.actions import selfcancel

    monkeypatch.setattr(selfcancel, "host_name", lambda: "lab01")
    monkeypatch.setattr(selfcancel, "run_command", never)
    text = "CANCEL=ALL,FORCE,S4,SELF:lab01"
    ctx, out, err = ctx_for(text)
    ctx = dataclasses.replace(ctx, invocation=dataclasses.replace(ctx.invocation, dry_run=True))
    assert run_cancel(parse_cancel(parse_action(text)), ctx, runtime) == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    assert lines[0] == "b1: would SUSPEND FORCE (pid 4711)"
    assert lines[1].startswith("lab01: SELF: would run: ")
    assert lines[1].endswith("poweroff (SUSPEND of the host itself is mapped to a power-off)")
    assert runtime.vm(vm_id("b1", Path(ctys_env["CTYS_VMPATH"]) / "b1" / "b1.conf")).path.exists()


def test_self_is_confirmed_before_any_vm_is_touched(
    ctys_env: dict[str, str], alive: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctys.errors import UsageError

    runtime = _one_vm(ctys_env)
    monkeypatch.setattr(cancel, "cancel_target", lambda *a: pytest.fail("a VM was touched"))
    ctx, _, _ = ctx_for("CANCEL=ALL,SELF:elsewhere")
    with pytest.raises(UsageError, match="SELF:elsewhere names another host: this is "):
        run_cancel(parse_cancel(parse_action("CANCEL=ALL,SELF:elsewhere")), ctx, runtime)


def test_self_is_skipped_when_a_vm_could_not_be_cancelled(
    ctys_env: dict[str, str], alive: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctys.plugins.qemu.actions import selfcancel

    runtime = _one_vm(ctys_env)
    monkeypatch.setattr(cancel, "foreign_vms", lambda claimed: ForeignScan((), 0))
    monkeypatch.setattr(
        cancel, "cancel_target", lambda t, r: CancelOutcome(t.label, "failed: no", ok=False)
    )
    ran: list[list[str]] = []
    monkeypatch.setattr(selfcancel, "run_command", lambda argv, timeout: ran.append(argv))
    name = selfcancel.host_name()
    ctx, out, err = ctx_for(f"CANCEL=ALL,SELF:{name}")
    assert run_cancel(parse_cancel(parse_action(f"CANCEL=ALL,SELF:{name}")), ctx, runtime) == 1
    assert ran == []
    assert "SELF not done: not every VM was cancelled" in err.getvalue()
    # With FORCE the host goes down anyway (the VM is then ended with it).
    ctx, out, err = ctx_for(f"CANCEL=ALL,FORCE,SELF:{name}")
    run_cancel(parse_cancel(parse_action(f"CANCEL=ALL,FORCE,SELF:{name}")), ctx, runtime)
    assert len(ran) == 1 and ran[0][-1] == "poweroff"
    assert f"{name}: SELF: running " in out.getvalue()


def test_terse_prints_the_originals_block(
    ctys_env: dict[str, str], alive: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    runtime = _one_vm(ctys_env)
    monkeypatch.setattr(cancel, "foreign_vms", lambda claimed: ForeignScan((), 0))
    monkeypatch.setattr(cancel, "cancel_target", lambda t, r: CancelOutcome(t.label, "reset"))
    ctx, out, _ = ctx_for("CANCEL=l:b1,RESET")
    ctx = dataclasses.replace(ctx, invocation=dataclasses.replace(ctx.invocation, terse=True))
    assert run_cancel(parse_cancel(parse_action("CANCEL=l:b1,RESET")), ctx, runtime) == 0
    conf = Path(ctys_env["CTYS_VMPATH"]) / "b1" / "b1.conf"
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["", "-" * 28, "RESET-SERVER Session:"]
    assert lines[3:6] == [f"   ID    ={conf}", "   LABEL =b1", "   PID   =4711"]
    assert lines[6].startswith("   SPORT =") and lines[6].endswith("qmp.sock")
    assert lines[7:] == ["-" * 28, "b1: reset", "", "-" * 28, ""]
