"""CREATE: boot a VM with the requested boot mode and console (or attach to a running one)."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ctys.address.model import AddressKind
from ctys.address.vmid import vm_id
from ctys.consoles.kinds import ConsoleKind, has_display
from ctys.consoles.launchers import Geometry, console_argv, launch_detached, parse_geometry
from ctys.consoles.serial import attach_serial
from ctys.errors import AddressError, CtysError, QemuError, VmStateError
from ctys.inventory.settings import inventory_choice
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.find_running import (
    RunningVm,
    find_running,
    foreign_instance,
    managed_instance,
    running_vms,
)
from ctys.plugins.qemu.actions.kvmwatch import kvm_failed, watch_kvm_guest
from ctys.plugins.qemu.actions.startguard import StartGuard, managed_note
from ctys.plugins.qemu.actions.waitready import GuestFailed, stop_failed, wait_console_text
from ctys.plugins.qemu.boot.argv import DisplayMode, LaunchSpec, SerialMode, build_argv
from ctys.plugins.qemu.boot.bootspec import BootMode, BootSpec
from ctys.plugins.qemu.boot.execpolicy import check_may_boot
from ctys.plugins.qemu.boot.instmode import (
    check_install_media,
    install_target,
    prepare_target,
    write_install_note,
)
from ctys.plugins.qemu.boot.preflight import check_media
from ctys.plugins.qemu.boot.pxe import booted_medium, pxe_network
from ctys.plugins.qemu.boot.uefi import UefiBoot, ensure_varstore, uefi_boot
from ctys.plugins.qemu.confs.reader import resolve_vm
from ctys.plugins.qemu.host.kvmprobe import KvmState
from ctys.plugins.qemu.net.netconf import network_config
from ctys.plugins.qemu.net.network import NetworkConfig, vde_dir
from ctys.plugins.qemu.net.vde import check_host_network, release_idle_switches, switches_up
from ctys.plugins.qemu.requests import CreateRequest
from ctys.plugins.qemu.vm import SESSION_TYPE, lifecycle
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.imagelock import lock_conflict
from ctys.plugins.qemu.vm.qmp import QmpUnavailable
from ctys.plugins.qemu.vm.runtime import RuntimeDir, RuntimeRecord, VmRuntimeDir
from ctys.plugins.qemu.vmconfig import Accelerator, VmConfig
from ctys.plugins.qemu.vnc import (
    check_vnc_port_free,
    check_vnc_viewer,
    launch_vnc_viewer,
    note_vnc_address,
    read_vnc_password,
    vnc_attach_line,
    vnc_password,
    vnc_start_note,
    with_vnc_password,
)


@dataclass(frozen=True)
class Started:
    """Outcome of a successful boot."""

    vm: VmConfig
    rundir: VmRuntimeDir
    record: RuntimeRecord
    accel_note: str


def _pick_binary_and_accel(
    vm: VmConfig, tcg_because: str | None = None
) -> tuple[str, Accelerator, str, KvmState | None]:
    """The qemu binary for the VM's arch and the accelerator to use, with a note why, and
    the KVM verdict when AUTO chose KVM on it unconfirmed (the start is then watched).
    KVM is probed (once per boot, cached) only when the VM may use it; ``tcg_because``
    (KVM just failed a guest) pins TCG."""
    from ctys.plugins.qemu.host.detect import (
        HostCapabilities,
        binary_for_arch,
        detect_binaries,
        detect_host,
    )
    from ctys.plugins.qemu.host.kvmprobe import KvmState, choose_accelerator

    requested = vm.accelerator
    env = os.environ.get("CTYS_ACCEL", "").upper()
    if env in ("TCG", "KVM"):
        requested = Accelerator(env)
    if tcg_because is not None:
        requested = Accelerator.TCG
    if requested is Accelerator.TCG:
        # The common case pays for one PATH lookup, not a scan of every qemu on the host.
        binary = vm.qemu_binary or shutil.which(f"qemu-system-{vm.arch}")
        if binary is None:
            host = HostCapabilities(detect_binaries(), KvmState(False, "not asked for"))
            binary = str(binary_for_arch(host, vm.arch).path)
        note = f"TCG, because KVM is not usable: {tcg_because}" if tcg_because else "TCG"
        return binary, Accelerator.TCG, note, None
    host = detect_host()
    binary = vm.qemu_binary or str(binary_for_arch(host, vm.arch).path)
    accel, note = choose_accelerator(requested, host.kvm)
    auto_kvm = requested is Accelerator.AUTO and accel is Accelerator.KVM
    return binary, accel, note, host.kvm if auto_kvm and not host.kvm.confirmed else None


def _spec(
    vm: VmConfig,
    req: CreateRequest,
    binary: str,
    accel: Accelerator,
    rundir: VmRuntimeDir,
    firmware: UefiBoot | None = None,
) -> LaunchSpec:
    console = req.console
    foreground = console is ConsoleKind.CLI0
    return LaunchSpec(
        vm=vm,
        binary=binary,
        accelerator=accel,
        rundir=rundir,
        serial=SerialMode.STDIO if foreground else SerialMode.SOCKET,
        display=DisplayMode.SDL if console is ConsoleKind.SDL else DisplayMode.NONE,
        vnc=console.prepares_vnc,
        vnc_listen=req.vnc_listen,
        daemonize=False,
        boot=req.boot,
        kernel=req.kernel,
        argsadd=req.argsadd,
        install=req.install,
        firmware=firmware,
    )


def _preflight_media(vm: VmConfig, req: CreateRequest) -> None:
    """Every image the boot opens exists (with INSTMODE: as the install boot sees them);
    a conf whose ARGS or QEMUBIN run a program of its choice boots only for its owner."""
    check_may_boot(vm)
    if req.install is None:
        check_media(vm, req.boot, req.kernel)
    else:
        # Its path is in the checked VM already; a PXE source's path is its TFTP root.
        source = req.install.source
        if source.mode is not BootMode.PXE:
            source = BootSpec(source.mode)
        check_media(check_install_media(vm, req.install), source, req.kernel)


def _prepare_install(vm: VmConfig, req: CreateRequest, rundir: VmRuntimeDir) -> None:
    """INSTMODE, under the start lock: INIT makes the fresh target image; the mode is
    recorded beside the runtime record."""
    if req.install is None:
        return
    if req.install.init:
        prepare_target(vm, req.install)
    write_install_note(rundir.path, req.install, install_target(vm, req.install))


def _preflight_network(vm: VmConfig, req: CreateRequest) -> NetworkConfig:
    """The VM's NICs from its conf, and the host's rights for them, before anything runs.
    (``build_argv`` reads the same settings from the conf again.)"""
    net = pxe_network(
        network_config(vm, args=req.argsadd), vm, booted_medium(req.boot, req.install)
    )
    check_host_network(net)
    return net


def _preflight_console(req: CreateRequest, ctx: RunContext) -> None:
    """Fail before booting when the console cannot be opened (missing program/display)."""
    kind = req.console
    if kind is ConsoleKind.SDL and not has_display():
        raise CtysError(
            "CONSOLE:SDL needs a display, but neither $DISPLAY nor $WAYLAND_DISPLAY is set;"
            " use CONSOLE:VNC or CONSOLE:CLI"
        )
    if kind.opens_terminal_program:
        console_argv(
            kind, label="check", vmid="check", session_type=SESSION_TYPE, geometry=_geometry(ctx)
        )


def _geometry(ctx: RunContext) -> Geometry | None:
    g = ctx.invocation.geometry
    return parse_geometry(g) if g else None


def _new_record(
    vm: VmConfig,
    vmid: str,
    binary: str,
    accel: Accelerator,
    req: CreateRequest,
    argv: list[str],
) -> RuntimeRecord:
    """The runtime record of a VM about to start (the pid comes from qemu's pidfile)."""
    return RuntimeRecord(
        vmid=vmid,
        label=vm.label,
        conf=str(vm.conf_path),
        uuid=vm.uuid,
        mac=vm.mac,
        ip=vm.ip,
        binary=binary,
        accelerator=accel.value,
        console=req.console.value,
        vnc_host=req.vnc_listen or "127.0.0.1",
        started=time.time(),
        argv=argv,
    )


def boot(
    vm: VmConfig, req: CreateRequest, runtime: RuntimeDir, tcg_because: str | None = None
) -> Started:
    """Start ``vm`` daemon-style (not CLI0). Serialised by the VM's start lock: a VM that
    already runs is refused, so concurrent CREATEs start exactly one qemu. An AUTO VM whose
    KVM guest fails in its first seconds is restarted under TCG
    (``ctys.plugins.qemu.actions.kvmwatch``)."""
    _preflight_media(vm, req)
    firmware = uefi_boot(vm)
    net = _preflight_network(vm, req)
    given_password = read_vnc_password(req)
    binary, accel, note, unconfirmed_kvm = _pick_binary_and_accel(vm, tcg_because)
    vmid = vm_id(vm.label, vm.conf_path)
    with runtime.start_lock(vmid):
        running = managed_instance(runtime, vmid)
        if running is not None:
            raise VmStateError(f"VM {vm.label} is already running (pid {running.pid})")
        foreign = foreign_instance(vm)
        # Another managed VM on the same disk is not "outside ctys": qemu's image lock
        # refuses the start, and lock_conflict names that VM.
        if foreign is not None and all(r.pid != foreign.pid for r in running_vms(runtime)):
            who = f" by {foreign.user}" if foreign.user else ""
            raise VmStateError(
                f"VM {vm.label} is already running outside ctys (pid {foreign.pid}{who})"
            )
        check_vnc_port_free(vm, req)
        rundir = runtime.create_vm_dir(vmid)
        guard = StartGuard(rundir)
        handle: VmHandle | None = None
        try:
            argv = build_argv(_spec(vm, req, binary, accel, rundir, firmware))
            # A TCP port always asks for a password (generated when VNCPASS gives none).
            password = vnc_password(vm, req, rundir, given_password)
            if password is not None:
                argv = with_vnc_password(argv)
            _prepare_install(vm, req, rundir)
            if firmware is not None:
                ensure_varstore(firmware)
            record = _new_record(vm, vmid, binary, accel, req, argv)
            # Written before qemu starts: a ctys killed right after the launch leaves a
            # record that qemu's own pidfile completes, never a qemu that nobody manages.
            rundir.write_record(record)
            # The switches' locks are held until qemu has plugged in (no CANCEL stops them).
            with switches_up(net.managed_switches(), vde_dir(runtime.root)):
                try:
                    handle = VmHandle.launch(argv, rundir, on_spawn=guard.spawned)
                except QemuError as exc:  # a disk another VM holds: name that VM
                    raise lock_conflict(exc, rundir, runtime) from exc
            if password is not None:
                handle.set_vnc_password(password)
            record.pid = handle.pid
            rundir.write_record(record)
        except BaseException as exc:
            if handle is not None:
                handle.close()
            guard.abort(exc)  # stops the qemu, keeps its logs, says so; re-raises
            raise
    try:
        with handle:
            if req.console.prepares_vnc and note_vnc_address(record, rundir, handle):
                rundir.write_record(record)
            _check_not_failed(vm, handle)
            if unconfirmed_kvm is not None:
                watch_kvm_guest(vm, handle, unconfirmed_kvm)
    except KeyboardInterrupt:
        print(managed_note(vm.label, handle.pid), file=sys.stderr, flush=True)
        raise
    except GuestFailed as failed:
        if unconfirmed_kvm is None:
            raise
        return boot(vm, req, runtime, tcg_because=kvm_failed(vm, unconfirmed_kvm, failed))
    return Started(vm, rundir, record, note)


def _check_not_failed(vm: VmConfig, handle: VmHandle) -> None:
    """A VM that hit QEMU's internal-error state (e.g. "KVM internal error") is reported
    and stopped (``GuestFailed``), never left hanging."""
    state = handle.status(timeout=2.0)
    if state is not None and state.failed:
        raise stop_failed(handle, vm.label, state, "right after its start")


def run_foreground(vm: VmConfig, req: CreateRequest, runtime: RuntimeDir, ctx: RunContext) -> int:
    """CONSOLE:CLI0: qemu bound to this terminal; the VM ends when the console does."""
    _preflight_media(vm, req)
    firmware = uefi_boot(vm)
    net = _preflight_network(vm, req)
    read_vnc_password(req)  # CLI0 has no VNC server: VNCPASS is refused, not ignored
    binary, accel, note, _ = _pick_binary_and_accel(vm)
    vmid = vm_id(vm.label, vm.conf_path)
    with runtime.start_lock(vmid):
        if managed_instance(runtime, vmid) is not None or foreign_instance(vm) is not None:
            raise VmStateError(f"VM {vm.label} is already running")
        rundir = runtime.create_vm_dir(vmid)
        try:
            argv = build_argv(_spec(vm, req, binary, accel, rundir, firmware))
            _prepare_install(vm, req, rundir)
            if firmware is not None:
                ensure_varstore(firmware)
            # Started now; a sweep before qemu plugs in still sees its argv naming the switch.
            with switches_up(net.managed_switches(), vde_dir(runtime.root)):
                pass
        except BaseException:
            rundir.remove()
            raise
        rundir.write_record(_new_record(vm, vmid, binary, accel, req, argv))
    print(
        f"[ctys] {vm.label}: {note}; Ctrl-A x quits, Ctrl-A c toggles the monitor",
        file=ctx.err,
        flush=True,
    )
    try:
        return lifecycle.run_foreground(argv)
    finally:
        rundir.remove()
        if net.managed_switches():
            release_idle_switches(vde_dir(runtime.root))


def _open_console(started: Started, req: CreateRequest, ctx: RunContext) -> None:
    vm, rundir, record = started.vm, started.rundir, started.record
    kind = req.console
    if kind is ConsoleKind.CLI:
        foreground = ctx.invocation.background is False or (
            ctx.invocation.background is None and sys.stdin.isatty()
        )
        if foreground:
            attach_serial(rundir.console, label=vm.label)
        return
    if kind is ConsoleKind.VNC:
        if not has_display():
            return  # the VNC address is in the start line; no viewer without a display
        launch_vnc_viewer(record, rundir, _geometry(ctx))
        return
    if kind.opens_terminal_program:
        launch_detached(
            console_argv(
                kind,
                label=vm.label,
                vmid=record.vmid,
                session_type=SESSION_TYPE,
                geometry=_geometry(ctx),
            )
        )


def _start_line(started: Started) -> str:
    r = started.record
    parts = [f"pid {r.pid}", started.accel_note]
    if r.console != "SDL":
        parts.append(f"console {started.rundir.console}")
    vnc = vnc_start_note(r, started.rundir)
    if vnc is not None:
        parts.append(vnc)
    return f"{started.vm.label}: started ({'; '.join(parts)})"


def _attach_running(running: RunningVm, req: CreateRequest, ctx: RunContext) -> int:
    """CONNECT / REUSE: open the console of a VM that runs already (resume it if paused)."""
    with (
        VmHandle(
            running.pid, running.rundir.qmp, rundir=running.rundir, record=running.record
        ) as vm,
        contextlib.suppress(QmpUnavailable),
    ):
        if vm.resume_if_paused():
            print(f"{running.record.label}: resumed", file=ctx.out)
    kind = req.console
    if kind is ConsoleKind.VNC or (kind is not ConsoleKind.CLI and not kind.uses_serial_socket):
        r = running.record
        print(vnc_attach_line(r, running.rundir), file=ctx.out)
        if has_display():
            launch_vnc_viewer(r, running.rundir, None)
        return 0
    if kind.opens_terminal_program:
        argv = console_argv(
            kind, label=running.record.label, vmid=running.record.vmid, session_type=SESSION_TYPE
        )
        launch_detached(argv)
        return 0
    attach_serial(running.rundir.console, label=running.record.label)
    return 0


def _find_running_for_attach(
    req: CreateRequest, runtime: RuntimeDir, inventory: Path | None, ctx: RunContext
) -> tuple[RunningVm | None, VmConfig | None]:
    terms = req.selector.terms
    try:
        return find_running(runtime, req.selector, inventory, ctx.err)
    except AddressError:
        if req.connect and len(terms) == 1 and terms[0].kind is AddressKind.ID:
            raise VmStateError(f"no running VM with ID {terms[0].value}") from None
        raise


def _label_of(vm: VmConfig | None, req: CreateRequest) -> str:
    return vm.label if vm is not None else str(req.selector)


def run_create(req: CreateRequest, ctx: RunContext, runtime: RuntimeDir | None = None) -> int:
    """The CREATE action."""
    if ctx.invocation.resolution:
        raise CtysError("-r (resolution) is not supported by QEMU; use -g for the console window")
    runtime = runtime or RuntimeDir()
    inventory = inventory_choice(ctx.invocation).path
    if req.connect or req.reuse:
        # Running VMs are found by their runtime records first (see find_running).
        running, found = _find_running_for_attach(req, runtime, inventory, ctx)
        if running is not None:
            return _attach_running(running, req, ctx)
        if req.connect or found is None:
            raise VmStateError(f"VM {_label_of(found, req)} is not running (CONNECT attaches only)")
        vm = found
    else:
        vm = resolve_vm(req.selector, inventory, err=ctx.err)
    if req.console is ConsoleKind.CLI0:
        return run_foreground(vm, req, runtime, ctx)
    _preflight_console(req, ctx)
    check_vnc_viewer(vm, req)
    started = boot(vm, req, runtime)
    try:
        print(_start_line(started), file=ctx.out, flush=True)
        if req.wait_ready:
            pid = started.record.pid or 0
            with VmHandle(pid, started.rundir.qmp, rundir=started.rundir) as handle:
                wait_console_text(
                    handle, req.wait_ready, timeout=req.wait_timeout, label=vm.label, err=ctx.err
                )
        _open_console(started, req, ctx)
    except KeyboardInterrupt:
        print(managed_note(vm.label, started.record.pid), file=ctx.err, flush=True)
        raise
    return 0
