"""INFO: what this host can run — qemu binaries, versions, accelerators, KVM verdict.

``INFO=LOAD`` answers one line ``load1;ncpu;running_vms`` instead: what CREATE asks each
candidate host when several can run a VM (``ctys.remote.placement``).
"""

from __future__ import annotations

import os

from ctys.errors import CtysError, UsageError
from ctys.invocation import ActionCall, OutputFormat
from ctys.plugins.answers import HostLoad
from ctys.plugins.base import RunContext

INFO_FIELDS = ("binary", "version", "arch", "accelerators", "default machine", "kvm")


def host_load() -> HostLoad:
    """The load of this host now."""
    from ctys.plugins.qemu.vm.processes import scan_qemu_processes

    return HostLoad(os.getloadavg()[0], os.cpu_count() or 1, len(scan_qemu_processes()))


def parse_load(text: str) -> HostLoad:
    """An ``INFO=LOAD`` answer back into a ``HostLoad``; ``CtysError`` if it is not one."""
    lines = [line for line in text.splitlines() if line.strip()]
    parts = lines[-1].split(";") if lines else []
    try:
        load1, ncpu, running = parts
        return HostLoad(float(load1), int(ncpu), int(running))
    except ValueError:
        raise CtysError(f"not a load answer: {text.strip()[:80]!r}") from None


def run_info(call: ActionCall, ctx: RunContext) -> int:
    """Print one row per qemu binary; ``INFO=REFRESH`` re-probes instead of using the cache;
    ``INFO=LOAD`` prints the host load line; ``INFO=MACHINE`` (or ``-X``) the original's
    one ``;``-line (``actions/infomachine``); ``INFO=<address>[,JSON][,LOG[:LINES]]`` one
    VM's details or logs (``actions/infovm``)."""
    from ctys.plugins.qemu.actions.infovm import is_vm_info, run_vm_info
    from ctys.plugins.qemu.host.detect import detect_host, host_report
    from ctys.tables import render

    if is_vm_info(call):
        return run_vm_info(call, ctx)

    refresh = False
    machine = ctx.invocation.terse  # -X: the original's terse INFO is its MACHINE form
    for sub in call.suboptions:
        if sub.key == "REFRESH" and not sub.args:
            refresh = True
        elif sub.key == "MACHINE" and not sub.args:
            machine = True
        elif sub.key == "LOAD" and not sub.args and len(call.suboptions) == 1:
            print(host_load().line(), file=ctx.out)
            return 0
        elif sub.key in ("LOG", "JSON"):
            raise UsageError(f"INFO suboption '{sub.raw}' needs a VM: INFO=l:LABEL,{sub.raw}")
        else:
            raise UsageError(f"unknown INFO suboption '{sub.raw}'")
    host = detect_host(refresh=refresh)
    if machine:
        from ctys import __version__
        from ctys.plugins.qemu.actions.infomachine import has_vde, machine_line, this_account

        print(machine_line(host, this_account(), __version__, vde=has_vde()), file=ctx.out)
        return 0 if host.binaries else 1
    rows = host_report(host)
    if not rows:
        print("no qemu binaries found (install qemu-system-x86)", file=ctx.err)
        return 1
    fields = list(ctx.invocation.output_fields) or list(INFO_FIELDS)
    render(rows, fields, ctx.invocation.output_format, ctx.out)
    if ctx.invocation.output_format is OutputFormat.TABLE:
        from ctys.plugins.qemu.host.firmware import find_firmware, firmware_lines

        for line in firmware_lines(find_firmware()):
            print(line, file=ctx.out)
    return 0
