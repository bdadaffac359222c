"""CREATE: boot a VM with the requested boot mode and console (or attach to a running one)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ctys.conf.rawconf import ConfMode
from ctys.consoles.kinds import ConsoleKind, has_display
from ctys.errors import CtysError, UsageError
from ctys.inventory.settings import inventory_choice
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.createdefaults import with_conf_defaults
from ctys.plugins.qemu.actions.startguard import managed_note
from ctys.plugins.qemu.actions.startseq import DAEMONIZED, FOREGROUND, Started, start_vm
from ctys.plugins.qemu.confs.reader import resolve_vm
from ctys.plugins.qemu.requests import CreateRequest
from ctys.plugins.qemu.vm import SESSION_TYPE
from ctys.plugins.qemu.vm.runtime import RuntimeDir
from ctys.plugins.qemu.vmconfig import VmConfig
from ctys.plugins.qemu.vnc import check_vnc_viewer
from ctys.textescape import printable

if TYPE_CHECKING:
    from ctys.consoles.launchers import Geometry
    from ctys.plugins.qemu.actions.find_running import RunningVm

# What only runs after qemu's launch (the start line, PING/SSHPING, WAIT:, the console or
# viewer), only for a running VM (CONNECT, REUSE, RECONNECT) or only with -n is imported
# where it is used: a start loads none of it before qemu runs.


def _preflight_console(req: CreateRequest, ctx: RunContext) -> None:
    """Fail before booting when the console cannot be opened (missing program/display)."""
    kind = req.console
    if kind is ConsoleKind.SDL and not has_display():
        raise CtysError(
            "CONSOLE:SDL needs a display, but neither $DISPLAY nor $WAYLAND_DISPLAY is set;"
            " use CONSOLE:VNC or CONSOLE:CLI"
        )
    if kind.opens_terminal_program:
        from ctys.consoles.launchers import console_argv

        console_argv(
            kind, label="check", vmid="check", session_type=SESSION_TYPE, geometry=_geometry(ctx)
        )


def _geometry(ctx: RunContext) -> Geometry | None:
    from ctys.consoles.launchers import parse_geometry

    g = ctx.invocation.geometry
    return parse_geometry(g) if g else None


def run_foreground(vm: VmConfig, req: CreateRequest, runtime: RuntimeDir, ctx: RunContext) -> int:
    """CONSOLE:CLI0: qemu bound to this terminal; the VM ends when the console does."""
    from ctys.plugins.qemu.actions.startseq import wait_foreground

    started = start_vm(vm, req, runtime, FOREGROUND, hint=ctx.err)
    return wait_foreground(started, runtime)


def _viewer_options(req: CreateRequest, kind: ConsoleKind, ctx: RunContext) -> tuple[str, ...]:
    """CALLOPTS then XOPTS, for a console that opens a program; said and dropped otherwise."""
    extra = (*req.callopts, *req.xopts)
    if extra and not (kind is ConsoleKind.VNC or kind.opens_terminal_program):
        print(
            f"ctys: CALLOPTS/XOPTS ignored: CONSOLE:{kind.value} opens no viewer or terminal",
            file=ctx.err,
        )
        return ()
    return extra


def _open_console(started: Started, req: CreateRequest, ctx: RunContext) -> None:
    from ctys.consoles.launchers import console_argv, launch_detached
    from ctys.plugins.qemu.vnc import launch_vnc_viewer

    vm, rundir, record = started.vm, started.rundir, started.record
    kind = req.console
    extra = _viewer_options(req, kind, ctx)
    if kind is ConsoleKind.CLI:
        foreground = ctx.invocation.background is False or (
            ctx.invocation.background is None and sys.stdin.isatty()
        )
        if foreground:
            from ctys.consoles.serial import attach_serial

            attach_serial(rundir.console, label=vm.label)
        return
    if kind is ConsoleKind.VNC:
        if not has_display():
            return  # the VNC address is in the start line; no viewer without a display
        launch_vnc_viewer(record, rundir, _geometry(ctx), extra=extra)
        return
    if kind.opens_terminal_program:
        launch_detached(
            console_argv(
                kind,
                label=vm.label,
                vmid=record.vmid,
                session_type=SESSION_TYPE,
                geometry=_geometry(ctx),
                extra=extra,
            )
        )


def _start_line(started: Started) -> str:
    from ctys.plugins.qemu.vnc import vnc_start_note

    r = started.record
    parts = [f"pid {r.pid}", started.accel_note]
    if r.console != "SDL":
        parts.append(f"console {started.rundir.console}")
    vnc = vnc_start_note(r, started.rundir)
    if vnc is not None:
        parts.append(vnc)
    return f"{started.vm.label}: started ({'; '.join(parts)})"


def _attached_console(req: CreateRequest, running: RunningVm) -> ConsoleKind:
    """CONNECT's console: CONSOLE:'s, else the VNC viewer of a VM started with
    CONSOLE:VNC, else its serial console (which every console but CLI0 has)."""
    if req.console_given:
        return req.console
    return ConsoleKind.VNC if running.record.console == ConsoleKind.VNC.value else ConsoleKind.CLI


def _reconnect(running: RunningVm, ctx: RunContext) -> None:
    """RECONNECT: close the VM's viewers and console attachers first."""
    from ctys.plugins.qemu.actions.clients import close_clients, find_clients

    for client in close_clients(find_clients(running.rundir, running.record)):
        print(
            f"{running.record.label}: closed its client {printable(client.name)}"
            f" (pid {client.pid})",
            file=ctx.out,
        )
    time.sleep(0.2)  # let a closed attacher release the console's lock


def _attach_running(running: RunningVm, req: CreateRequest, ctx: RunContext) -> int:
    """CONNECT / REUSE / RECONNECT: open the console of a VM that runs already (resume it
    if paused)."""
    import contextlib

    from ctys.consoles.launchers import console_argv, launch_detached
    from ctys.plugins.qemu.vm.handle import VmHandle
    from ctys.plugins.qemu.vm.qmp import QmpUnavailable
    from ctys.plugins.qemu.vnc import launch_vnc_viewer, vnc_attach_line

    if ctx.invocation.dry_run:
        print(f"{running.record.label}: runs (pid {running.pid}); -n: attached to nothing",
              file=ctx.out)  # fmt: skip
        return 0
    if req.reconnect:
        _reconnect(running, ctx)
    with (
        VmHandle(
            running.pid, running.rundir.qmp, rundir=running.rundir, record=running.record
        ) as vm,
        contextlib.suppress(QmpUnavailable),
    ):
        if vm.resume_if_paused():
            print(f"{running.record.label}: resumed", file=ctx.out)
    kind = _attached_console(req, running)
    extra = _viewer_options(req, kind, ctx)
    if kind is ConsoleKind.VNC or (kind is not ConsoleKind.CLI and not kind.uses_serial_socket):
        r = running.record
        print(vnc_attach_line(r, running.rundir), file=ctx.out)
        if has_display():
            launch_vnc_viewer(r, running.rundir, None, extra=extra)
        return 0
    if kind.opens_terminal_program:
        argv = console_argv(
            kind,
            label=running.record.label,
            vmid=running.record.vmid,
            session_type=SESSION_TYPE,
            extra=extra,
        )
        launch_detached(argv)
        return 0
    from ctys.consoles.serial import attach_serial

    rundir = running.rundir
    attach_serial(
        rundir.console, label=running.record.label, force=req.force, replay=rundir.console_log
    )
    return 0


def _find_running_for_attach(
    req: CreateRequest, runtime: RuntimeDir, inventory: Path | None, ctx: RunContext
) -> tuple[RunningVm | None, VmConfig | None]:
    from ctys.address.model import AddressKind
    from ctys.errors import AddressError, VmStateError
    from ctys.plugins.qemu.actions.find_running import find_running

    terms = req.selector.terms
    try:
        return find_running(runtime, req.selector, inventory, ctx.err)
    except AddressError:
        if req.connect and len(terms) == 1 and terms[0].kind is AddressKind.VMID:
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
    if req.resume:
        from ctys.plugins.qemu.actions.resume import run_resume

        return run_resume(req, runtime, inventory, ctx)
    if req.connect or req.reuse:
        # Running VMs are found by their runtime records first (see find_running).
        running, found = _find_running_for_attach(req, runtime, inventory, ctx)
        if running is not None:
            return _attach_running(running, req, ctx)
        if req.connect or found is None:
            from ctys.errors import VmStateError

            word = "RECONNECT" if req.reconnect else "CONNECT"
            raise VmStateError(f"VM {_label_of(found, req)} is not running ({word} attaches only)")
        vm = found
    else:
        vm = resolve_vm(req.selector, inventory, err=ctx.err)
    req, vm = with_conf_defaults(req, vm)
    if vm.mode is ConfMode.SH_CTYS:  # a wrapper's conf: WRAPPER runs it, else a note says
        from ctys.plugins.qemu.actions.wrapperstart import note_wrapper_not_run

        note_wrapper_not_run(vm, req, ctx.err)
    if ctx.invocation.dry_run:
        return _print_plan(vm, req, runtime, ctx)
    if req.console is ConsoleKind.CLI0:
        if req.ping.enabled or req.sshping.enabled or req.wait_server or req.wait_client:
            raise UsageError(
                "CONSOLE:CLI0 holds this terminal until the VM ends: PING, SSHPING, WAITS and"
                " WAITC need another console (CLI, NONE, VNC...)"
            )
        return run_foreground(vm, req, runtime, ctx)
    _preflight_console(req, ctx)
    check_vnc_viewer(vm, req)
    if req.wrapper:
        from ctys.plugins.qemu.actions.wrapperstart import start_with_wrapper

        started = start_with_wrapper(vm, req, runtime)
    else:
        started = start_vm(vm, req, runtime, DAEMONIZED)
    try:
        print(_start_line(started), file=ctx.out, flush=True)
        _after_start(started, req, ctx)
        if req.wait_client:
            time.sleep(req.wait_client)
        _open_console(started, req, ctx)
    except KeyboardInterrupt:
        print(managed_note(vm.label, started.record.pid), file=ctx.err, flush=True)
        raise
    return 0


def _after_start(started: Started, req: CreateRequest, ctx: RunContext) -> None:
    """WAITS, then PING/SSHPING, then WAIT: (the console text), each when asked for."""
    if req.wait_server:
        time.sleep(req.wait_server)
    if (req.ping.enabled or req.sshping.enabled) and started.network is not None:
        from ctys.plugins.qemu.actions.guestprobe import wait_guest_answers

        with started.handle as handle:
            wait_guest_answers(started.vm, req, started.network, handle, err=ctx.err)
    if req.wait_ready:
        from ctys.plugins.qemu.actions.waitready import wait_console_text

        with started.handle as handle:
            wait_console_text(
                handle,
                req.wait_ready,
                timeout=req.wait_timeout,
                label=started.vm.label,
                err=ctx.err,
            )


def _print_plan(vm: VmConfig, req: CreateRequest, runtime: RuntimeDir, ctx: RunContext) -> int:
    """``-n``: the qemu command line CREATE would run, one shell-quoted line shown with its
    control characters escaped; nothing is started."""
    import shlex

    from ctys.plugins.qemu.actions.startseq import planned_argv
    from ctys.plugins.qemu.net.netconf import network_config
    from ctys.plugins.qemu.net.network import vde_dir
    from ctys.plugins.qemu.net.vdelink import planned_link_argv

    argv = planned_argv(vm, req, runtime)
    # VDENET = lab@hostB: the link to the other host's switch starts first.
    net = network_config(vm, args=req.argsadd)
    for name, peer in net.vde_links():
        # The switch's identity is made when it links: ID stands for it here. The ssh
        # folder is named, not made (-n writes nothing).
        link = planned_link_argv(
            name, peer, vde_dir(runtime.root), "ID", control_dir=runtime.root / "ssh"
        )
        print(printable(shlex.join(link)), file=ctx.out)
    print(printable(shlex.join(argv)), file=ctx.out)
    return 0
