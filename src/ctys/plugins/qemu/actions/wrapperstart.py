"""CREATE=…,WRAPPER: run the VM's own wrapper script and manage the qemu it starts.

By default ctys builds the qemu call from the conf and only says that a wrapper beside it
was not run (``note_wrapper_not_run``). With WRAPPER it runs the wrapper as the original
did (``ctys.plugins.qemu.boot.wrapper``): ``--check`` first, then the real call in its own
session with its output in ``qemu.log``. ctys's QMP socket and pidfile, passed in the
wrapper's ``--argsadd``, tie the qemu it starts to a runtime folder like one ctys started,
so LIST, CANCEL and CONNECT work on it.
"""

from __future__ import annotations

import errno
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from ctys.address.vmid import vm_id
from ctys.conf.rawconf import ConfMode, wrapper_path
from ctys.consoles.kinds import ConsoleKind
from ctys.errors import VmError
from ctys.plugins.qemu.actions.find_running import foreign_instance
from ctys.plugins.qemu.actions.startguard import StartGuard
from ctys.plugins.qemu.actions.startseq import (
    DAEMONIZED,
    Started,
    _new_record,
    _refuse_running,
    start_vm,
)
from ctys.plugins.qemu.boot.argv import monitor_args
from ctys.plugins.qemu.boot.execpolicy import check_may_boot
from ctys.plugins.qemu.boot.wrapper import (
    WrapperCall,
    check_wrapper_owner,
    is_ctys_wrapper,
    serial_args,
)
from ctys.plugins.qemu.requests import CreateRequest
from ctys.plugins.qemu.vm import lifecycle
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.processes import (
    QemuProcess,
    read_qemu_process,
    references_dir,
    scan_qemu_processes,
)
from ctys.plugins.qemu.vm.runtime import RuntimeDir, VmRuntimeDir
from ctys.plugins.qemu.vmconfig import VmConfig
from ctys.plugins.qemu.vnc import note_vnc_address
from ctys.textescape import one_line

CHECK_TIMEOUT = 60.0  # seconds the wrapper's --check may take
START_TIMEOUT = 60.0  # seconds until the wrapper's qemu answers on ctys's monitor
_AFTER_EXIT = 5.0  # a wrapper that ended cleanly: how long its daemonized qemu may take
_POLL = 0.2
VNC_BASE = 5900
VNC_DISPLAYS = 100  # the displays tried for --vncaccessdisplay


def note_wrapper_not_run(vm: VmConfig, req: CreateRequest, err: TextIO) -> None:
    """The one stderr line for a VM with a wrapper that CREATE boots from its conf."""
    if req.wrapper or vm.mode is not ConfMode.SH_CTYS:
        return
    print(
        one_line(
            f"ctys: {vm.label}: wrapper {wrapper_path(vm.conf_path)} not run; the qemu call"
            " is built from the conf (CREATE=…,WRAPPER runs it)"
        ),
        file=err,
        flush=True,
    )


def first_free_display(bind: Callable[[int], bool] | None = None) -> int:
    """The first VNC display (0…99) whose TCP port (5900 + display) is free on every
    interface, as the original's ``getFirstFreeVNCDisplay``: the template listens there."""
    free = bind or _port_free
    for display in range(VNC_DISPLAYS):
        if free(VNC_BASE + display):
            return display
    raise VmError(f"no free VNC display among :0…:{VNC_DISPLAYS - 1} for the wrapper")


def _port_free(port: int) -> bool:
    try:
        with socket.create_server(("", port)):
            return True
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return False
        raise VmError(f"cannot test VNC port {port}: {exc.strerror or exc}") from exc


def _checked_script(vm: VmConfig) -> Path:
    script = wrapper_path(vm.conf_path)
    if not script.is_file():
        raise VmError(f"VM {vm.label} has no wrapper script ({script}); drop WRAPPER")
    check_wrapper_owner(script)
    check_wrapper_owner(vm.conf_path)  # the wrapper runs (sources) it
    return script


def wrapper_call(
    vm: VmConfig, req: CreateRequest, rundir: VmRuntimeDir, display: int
) -> WrapperCall:
    """The wrapper call for ``req``: the user's ARGSADD words, then ctys's monitor and (but
    for SDL) its serial console socket, as on a qemu call ctys builds itself."""
    words = list(req.argsadd) + monitor_args(rundir.qmp, rundir.events, rundir.pidfile)
    if req.console is not ConsoleKind.SDL:  # as ctys's own call: SDL shows it in its window
        words += serial_args(rundir.console, rundir.console_log)
    return WrapperCall(
        script=wrapper_path(vm.conf_path),
        console=req.console,
        vnc_display=display,
        boot=req.boot,
        install=req.install,
        kernel=req.kernel,
        argsadd=tuple(words),
    )


def _run_check(call: WrapperCall) -> None:
    argv = call.argv(check=True)
    try:
        done = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True,
            timeout=CHECK_TIMEOUT, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise VmError(
            f"wrapper {call.script} --check did not end within {CHECK_TIMEOUT:g}s"
        ) from None
    except OSError as exc:
        raise VmError(f"cannot run wrapper {call.script}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        detail = f": {lines[-1]}" if lines else ""
        raise VmError(
            one_line(f"wrapper {call.script} --check failed (exit {done.returncode}){detail}")
        )


def _find_qemu(rundir: VmRuntimeDir) -> QemuProcess | None:
    """The qemu naming ``rundir`` (ctys's monitor socket is in its argv): by the pidfile
    first, else by the process table."""
    pid = rundir.read_pid()
    proc = read_qemu_process(pid) if pid is not None else None
    if proc is not None and references_dir(proc, rundir.path):
        return proc
    return next((p for p in scan_qemu_processes() if references_dir(p, rundir.path)), None)


def _tail(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return f": {lines[-1]}" if lines else ""


def _unmanaged(vm: VmConfig) -> str:
    """``; qemu pid N runs this VM outside ctys`` when the wrapper started a qemu ctys
    cannot manage (it dropped ``--argsadd``): the user learns what is left running."""
    proc = foreign_instance(vm)
    return "" if proc is None else f"; qemu pid {proc.pid} runs this VM outside ctys"


def _wait_for_qemu(
    spawned: lifecycle.Spawned, call: WrapperCall, rundir: VmRuntimeDir, vm: VmConfig
) -> QemuProcess:
    """Wait for the wrapper's qemu; a wrapper that fails, or ends without one, is a
    ``VmError`` with the last line of its output."""
    deadline = time.monotonic() + START_TIMEOUT
    ended_at: float | None = None
    while True:
        proc = _find_qemu(rundir)
        if proc is not None:
            return proc
        code = spawned.proc.poll()
        now = time.monotonic()
        if code is not None and code != 0:
            raise VmError(
                one_line(f"wrapper {call.script} failed (exit {code}){_tail(rundir.qemu_log)}")
            )
        if code == 0:
            ended_at = now if ended_at is None else ended_at
            if now - ended_at > _AFTER_EXIT:
                raise VmError(
                    f"wrapper {call.script} ended without starting a qemu with ctys's monitor"
                    f" (does it pass --argsadd on to qemu?){_unmanaged(vm)}"
                )
        if now >= deadline:
            raise VmError(
                f"wrapper {call.script} started no qemu with ctys's monitor within"
                f" {START_TIMEOUT:g}s{_unmanaged(vm)}"
            )
        time.sleep(_POLL)


def _wait_monitor(handle: VmHandle, label: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while handle.status(timeout=2.0) is None:
        if not handle.alive():
            raise VmError(f"the qemu of VM {label} ended right after its wrapper started it")
        if time.monotonic() >= deadline:
            raise VmError(f"the qemu of VM {label} did not answer on ctys's monitor")
        time.sleep(_POLL)


def start_with_wrapper(vm: VmConfig, req: CreateRequest, runtime: RuntimeDir) -> Started:
    """Run ``vm``'s wrapper (``--check``, then the call) and take over the qemu it starts:
    its pid, argv and VNC display go into the VM's runtime record."""
    script = _checked_script(vm)
    if is_ctys_wrapper(script.read_text(errors="replace")):
        # ctys wrote it and it only calls ctys: boot the conf here (running it would
        # wait for this CREATE's own start lock).
        return start_vm(vm, req, runtime, DAEMONIZED)
    check_may_boot(vm)
    vmid = vm_id(vm.label, vm.conf_path)
    with runtime.start_lock(vmid):
        _refuse_running(vm, runtime, vmid)
        rundir = runtime.create_vm_dir(vmid)
        guard = StartGuard(rundir)
        handle: VmHandle | None = None
        try:
            call = wrapper_call(vm, req, rundir, first_free_display())
            record = _new_record(vm, vmid, str(script), vm.accelerator, req, [])
            rundir.write_record(record)
            _run_check(call)
            spawned = lifecycle.spawn(call.argv(), rundir, on_spawn=guard.spawned)
            proc = _wait_for_qemu(spawned, call, rundir, vm)
            spawned.forget()
            guard.spawned(proc.pid)
            record.pid = proc.pid
            record.binary = proc.cmdline.binary
            record.argv = list(proc.cmdline.argv)
            record.accelerator = (proc.cmdline.accelerator or "").upper()
            rundir.write_record(record)
            handle = VmHandle(proc.pid, rundir.qmp, rundir=rundir, record=record)
            _wait_monitor(handle, vm.label)
            if note_vnc_address(record, rundir, handle):
                rundir.write_record(record)
            handle.close()  # QEMU serves one QMP client at a time: free it for CREATE's steps
        except BaseException as exc:
            if handle is not None:
                handle.close()
            guard.abort(exc)
            raise
    assert handle is not None  # set in the try block, which re-raises on every failure
    return Started(vm, rundir, record, f"started by its wrapper {script.name}", handle)
