"""CREATE's one start sequence, for every console kind: preflight, the start lock, the
VDE switches, spawn, record, the QMP handshake (VNC password), the start checks.

What differs between consoles is a ``ConsoleStart``: ``DAEMONIZED`` (every console but
CLI0: qemu in its own session, watched after its start) or ``FOREGROUND`` (CONSOLE:CLI0:
qemu bound to this terminal; CREATE waits for it to end). Both hold the start lock and the
switches' locks until qemu's monitor answers, so neither a second CREATE nor a CANCEL's
idle-switch sweep acts on a VM that is still starting.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ctys.address.vmid import vm_id
from ctys.consoles.kinds import ConsoleKind
from ctys.errors import VmError, VmStateError
from ctys.plugins.qemu.actions.find_running import foreign_instance
from ctys.plugins.qemu.actions.stackcheck import check_stack
from ctys.plugins.qemu.actions.startguard import StartGuard, managed_note
from ctys.plugins.qemu.boot.argv import DisplayMode, LaunchSpec, SerialMode, build_argv
from ctys.plugins.qemu.boot.bootspec import BootMode, BootSpec
from ctys.plugins.qemu.boot.cloudinit import seed_for, seed_iso, seed_path
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
from ctys.plugins.qemu.net.netconf import network_config
from ctys.plugins.qemu.net.network import NetMode, NetworkConfig, vde_dir
from ctys.plugins.qemu.requests import CreateRequest
from ctys.plugins.qemu.shares.shareargv import (
    HostShareTools,
    SharePlan,
    host_share_tools,
    plan_shares,
)
from ctys.plugins.qemu.shares.shareconf import shares_for
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.runtime import (
    EntryState,
    RuntimeDir,
    RuntimeRecord,
    VmRuntimeDir,
    inspect_vm,
)
from ctys.plugins.qemu.vmconfig import Accelerator, VmConfig
from ctys.plugins.qemu.vnc import (
    check_vnc_port_free,
    note_vnc_address,
    read_vnc_password,
    tcp_listen,
    vnc_password,
    with_vnc_password,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ctys.plugins.qemu.host.kvmprobe import KvmState

# Loaded only when a start needs them (after qemu's launch, or for a conf that asks for
# them): the guest probes, the console-text wait, the KVM watch, VDE switches, share
# daemons, the image-lock diagnosis. A plain start does not pay for their imports before
# qemu runs (tests/unit/test_hot_imports.py pins that).


@dataclass(frozen=True)
class ConsoleStart:
    """How one console kind runs qemu: daemon-style and watched after its start, or bound
    to this terminal (``foreground``: the hint line goes to ``hint`` right before qemu
    starts)."""

    foreground: bool

    @property
    def serial(self) -> str:
        return SerialMode.STDIO if self.foreground else SerialMode.SOCKET


DAEMONIZED = ConsoleStart(foreground=False)
FOREGROUND = ConsoleStart(foreground=True)


def console_start(kind: ConsoleKind) -> ConsoleStart:
    """The start of ``kind``: CLI0 in the foreground, every other console daemonized."""
    return FOREGROUND if kind is ConsoleKind.CLI0 else DAEMONIZED


@dataclass(frozen=True)
class Started:
    """Outcome of a successful start (``handle``: the VM, its monitor closed)."""

    vm: VmConfig
    rundir: VmRuntimeDir
    record: RuntimeRecord
    accel_note: str
    handle: VmHandle
    managed_switches: bool = False
    network: NetworkConfig | None = None  # its NICs (PING/SSHPING find the guest by them)


def _pick_binary_and_accel(
    vm: VmConfig, tcg_because: str | None = None
) -> tuple[str, Accelerator, str, KvmState | None]:
    """The qemu binary for the VM's arch and the accelerator to use, with a note why, and
    the KVM verdict when AUTO chose KVM on it unconfirmed (the start is then watched).
    KVM is probed (once per boot, cached) only when the VM may use it; ``tcg_because``
    (KVM just failed a guest) pins TCG."""
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
            from ctys.plugins.qemu.host.detect import (
                HostCapabilities,
                binary_for_arch,
                detect_binaries,
            )
            from ctys.plugins.qemu.host.kvmprobe import KvmState

            host = HostCapabilities(detect_binaries(), KvmState(False, "not asked for"))
            binary = str(binary_for_arch(host, vm.arch).path)
        note = f"TCG, because KVM is not usable: {tcg_because}" if tcg_because else "TCG"
        return binary, Accelerator.TCG, note, None
    from ctys.plugins.qemu.host.detect import binary_for_arch, detect_host
    from ctys.plugins.qemu.host.kvmprobe import choose_accelerator

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
    seed: Path | None = None,
    shares: tuple[SharePlan, ...] = (),
    network: NetworkConfig | None = None,
) -> LaunchSpec:
    console = req.console
    return LaunchSpec(
        vm=vm,
        binary=binary,
        accelerator=accel,
        rundir=rundir,
        serial=console_start(console).serial,
        display=DisplayMode.SDL if console is ConsoleKind.SDL else DisplayMode.NONE,
        vnc=console.prepares_vnc,
        vnc_listen=req.vnc_listen,
        daemonize=False,
        boot=req.boot,
        kernel=req.kernel,
        argsadd=req.argsadd,
        install=req.install,
        firmware=firmware,
        seed=seed,
        shares=shares,
        network=network,
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
    """The VM's NICs from its conf, and the host's rights for them, before anything runs;
    PING/SSHPING must have an address to reach. ``build_argv`` is given these NICs (the
    conf's network keys are read once)."""
    net = pxe_network(
        network_config(vm, args=req.argsadd), vm, booted_medium(req.boot, req.install)
    )
    if any(nic.mode is not NetMode.USER for nic in net.nics):
        # A user-mode NIC needs nothing of the host: only a bridge/tap/VDE NIC loads net.vde.
        from ctys.plugins.qemu.net.vde import check_host_network

        check_host_network(net)
    if req.ping.enabled or req.sshping.enabled:
        from ctys.plugins.qemu.actions.guestprobe import check_probe_targets

        check_probe_targets(vm, req, net)
    return net


@contextlib.contextmanager
def _switches_up(net: NetworkConfig, runtime: RuntimeDir) -> Iterator[object]:
    """``net.vde.switches_up`` for the VM's managed VDE switches (none: nothing loaded)."""
    names = net.managed_switches()
    if not names:
        yield None
        return
    from ctys.plugins.qemu.net.vde import switches_up

    with switches_up(names, vde_dir(runtime.root), net.vde_links()) as started:
        yield started


def _share_plans(vm: VmConfig) -> tuple[tuple[SharePlan, ...], HostShareTools]:
    """The VM's shares (folders checked) and their transports; the host's tools are
    looked up only when the conf has shares."""
    shares = shares_for(vm)
    tools = host_share_tools() if shares else HostShareTools(None, None, root=False)
    return plan_shares(shares, tools), tools


def planned_argv(vm: VmConfig, req: CreateRequest, runtime: RuntimeDir) -> list[str]:
    """``-n``: the qemu argv ``start_vm`` would run, after the same checks; it starts,
    locks, writes and generates nothing (a TCP VNC port's password is set over QMP at the
    start, so it is not in the argv either)."""
    check_stack(vm, req.stackcheck)
    _preflight_media(vm, req)
    firmware = uefi_boot(vm)
    net = _preflight_network(vm, req)
    binary, accel, _note, _unconfirmed = _pick_binary_and_accel(vm)
    rundir = runtime.vm(vm_id(vm.label, vm.conf_path))
    seed = seed_for(vm)
    iso = seed_path(seed) if seed is not None else None
    shares, _tools = _share_plans(vm)
    argv = build_argv(_spec(vm, req, binary, accel, rundir, firmware, iso, shares, net))
    if req.console.prepares_vnc and tcp_listen(vm, req) is not None:
        argv = with_vnc_password(argv)
    return argv


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


def _check_not_failed(vm: VmConfig, handle: VmHandle) -> None:
    """A VM that hit QEMU's internal-error state (e.g. "KVM internal error") is reported
    and stopped (``GuestFailed``), never left hanging."""
    state = handle.status(timeout=2.0)
    if state is not None and state.failed:
        from ctys.plugins.qemu.actions.waitready import stop_failed

        raise stop_failed(handle, vm.label, state, "right after its start")


def _refuse_running(vm: VmConfig, runtime: RuntimeDir, vmid: str) -> None:
    """A VM that runs already, ours or started outside ctys, is not started twice."""
    entry = inspect_vm(runtime, runtime.vm(vmid)) if runtime.vm(vmid).path.exists() else None
    if entry is not None and entry.state in (EntryState.RUNNING, EntryState.UNREADABLE):
        unreadable = "; its runtime record is unreadable" if entry.record is None else ""
        raise VmStateError(f"VM {vm.label} is already running (pid {entry.pid}{unreadable})")
    foreign = foreign_instance(vm)
    # Another managed VM on the same disk is not "outside ctys": qemu's image lock
    # refuses the start, and lock_conflict names that VM.
    if foreign is not None and not _managed_pid(runtime, foreign.pid):
        who = f" by {foreign.user}" if foreign.user else ""
        raise VmStateError(
            f"VM {vm.label} is already running outside ctys (pid {foreign.pid}{who})"
        )


def _managed_pid(runtime: RuntimeDir, pid: int) -> bool:
    """Whether ``pid`` is the qemu of a VM ctys runs (per its runtime records)."""
    return any(record.pid == pid for record in map(VmRuntimeDir.read_record, runtime.all_vms())
               if record is not None)  # fmt: skip


def start_vm(
    vm: VmConfig,
    req: CreateRequest,
    runtime: RuntimeDir,
    console: ConsoleStart,
    *,
    hint: TextIO | None = None,
    tcg_because: str | None = None,
) -> Started:
    """Start ``vm`` for ``console``. Serialised by the VM's start lock: a VM that already
    runs is refused, so concurrent CREATEs start exactly one qemu. A daemonized AUTO VM
    whose KVM guest fails in its first seconds is restarted under TCG
    (``ctys.plugins.qemu.actions.kvmwatch``)."""
    check_stack(vm, req.stackcheck)
    _preflight_media(vm, req)
    firmware = uefi_boot(vm)
    net = _preflight_network(vm, req)
    given_password = read_vnc_password(req)  # CLI0 has no VNC server: VNCPASS is refused
    seed = seed_for(vm)
    # Built (or found in its cache) before the start lock: a slow build blocks no one.
    iso = seed_iso(seed) if seed is not None else None
    shares, tools = _share_plans(vm)
    binary, accel, note, unconfirmed_kvm = _pick_binary_and_accel(vm, tcg_because)
    if console.foreground:
        unconfirmed_kvm = None  # the terminal's user sees a failing guest: no watch
    vmid = vm_id(vm.label, vm.conf_path)
    with runtime.start_lock(vmid):
        _refuse_running(vm, runtime, vmid)
        check_vnc_port_free(vm, req)
        rundir = runtime.create_vm_dir(vmid)
        guard = StartGuard(rundir)
        handle: VmHandle | None = None
        try:
            argv = build_argv(_spec(vm, req, binary, accel, rundir, firmware, iso, shares, net))
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
            if hint is not None:
                print(
                    f"[ctys] {vm.label}: {note}; Ctrl-A x quits, Ctrl-A c toggles the monitor",
                    file=hint,
                    flush=True,
                )
            if shares:
                # Listening before qemu starts: qemu connects to each daemon's socket at once.
                from ctys.plugins.qemu.shares.fsdaemon import start_daemons

                start_daemons(shares, rundir.path, tools)
            # The switches' locks are held until qemu's monitor answers, i.e. until it has
            # plugged in: no CANCEL's idle sweep stops a switch under a starting VM.
            with _switches_up(net, runtime):
                try:
                    handle = VmHandle.launch(
                        argv, rundir, on_spawn=guard.spawned, foreground=console.foreground
                    )
                except VmError as exc:  # a disk another VM holds: name that VM
                    from ctys.plugins.qemu.vm.imagelock import lock_conflict

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
    started = Started(vm, rundir, record, note, handle, bool(net.managed_switches()), net)
    if console.foreground:
        return started
    from ctys.plugins.qemu.actions.waitready import GuestFailed  # qemu runs: now it may load

    try:
        with handle:
            if req.console.prepares_vnc and note_vnc_address(record, rundir, handle):
                rundir.write_record(record)
            _check_not_failed(vm, handle)
            if unconfirmed_kvm is not None:
                # Imported only here, after the launch: a TCG start never pays for it.
                from ctys.plugins.qemu.actions.kvmwatch import watch_kvm_guest

                watch_kvm_guest(vm, handle, unconfirmed_kvm)
    except KeyboardInterrupt:
        print(managed_note(vm.label, handle.pid), file=sys.stderr, flush=True)
        raise
    except GuestFailed as failed:
        if unconfirmed_kvm is None:
            raise
        from ctys.plugins.qemu.actions.kvmwatch import kvm_failed

        because = kvm_failed(vm, unconfirmed_kvm, failed)
        return start_vm(vm, req, runtime, console, tcg_because=because)
    return started


def wait_foreground(started: Started, runtime: RuntimeDir) -> int:
    """A foreground (CLI0) VM: wait for it to end (its handle removes its runtime folder)
    and stop the switches nobody uses any more; qemu's exit status."""
    try:
        return started.handle.wait()
    finally:
        if started.managed_switches:
            from ctys.plugins.qemu.net.vde import release_idle_switches

            release_idle_switches(vde_dir(runtime.root))
