"""SHOW: this host's dynamic data — load, CPUs, memory, swap, uptime — and the running
VMs with the CPU and memory each uses now (psutil), as LIST finds them.

A table per part by default; ``SHOW=TERSE`` (or ``-X``, ``-o terse``) prints one
``HOST;...`` line and one ``VM;...`` line per VM (``TITLE``: a header line before each
kind); ``SHOW=JSON`` one object ``{"host": {...}, "vms": [...]}``. CPU use is measured
over ``SAMPLE_SECONDS``."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Mapping, Sequence
from typing import TextIO

import psutil

from ctys.errors import UsageError
from ctys.invocation import ActionCall, OutputFormat
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.list import VmEntry

SAMPLE_SECONDS = 0.5
HOST_FIELDS = (
    "NODE", "SYSTEM", "RELEASE", "MACHINE", "LOAD1", "LOAD5", "LOAD15", "CPUS", "CPU%",
    "MEM_TOTAL_MB", "MEM_USED_MB", "MEM_AVAIL_MB", "SWAP_TOTAL_MB", "SWAP_USED_MB",
    "UPTIME_S", "VMS",
)  # fmt: skip
VM_FIELDS = ("LABEL", "PID", "MANAGED", "STATE", "VCPUS", "MEM_MB", "CPU%", "RSS_MB", "THREADS")
_MB = 1024 * 1024


def host_row(node: str, vms: int, cpu_percent: float) -> dict[str, object]:
    """The host's part of SHOW."""
    load1, load5, load15 = os.getloadavg()
    memory, swap = psutil.virtual_memory(), psutil.swap_memory()
    uname = platform.uname()
    return {
        "NODE": node,
        "SYSTEM": uname.system,
        "RELEASE": uname.release,
        "MACHINE": uname.machine,
        "LOAD1": round(load1, 2),
        "LOAD5": round(load5, 2),
        "LOAD15": round(load15, 2),
        "CPUS": os.cpu_count() or 1,
        "CPU%": round(cpu_percent, 1),
        "MEM_TOTAL_MB": memory.total // _MB,
        "MEM_USED_MB": (memory.total - memory.available) // _MB,
        "MEM_AVAIL_MB": memory.available // _MB,
        "SWAP_TOTAL_MB": swap.total // _MB,
        "SWAP_USED_MB": swap.used // _MB,
        "UPTIME_S": int(time.time() - psutil.boot_time()),
        "VMS": vms,
    }


def vm_rows(entries: Sequence[VmEntry], sample: float = SAMPLE_SECONDS) -> list[dict[str, object]]:
    """Each running VM with its CPU use over ``sample`` seconds and its memory now; a VM
    whose process ended meanwhile is left out."""
    procs: dict[int, psutil.Process] = {}
    for entry in entries:
        try:
            proc = psutil.Process(entry.pid)
            proc.cpu_percent(None)  # starts the measurement
            procs[entry.pid] = proc
        except psutil.Error:
            continue
    time.sleep(sample)  # (also the host's CPU sample)
    rows = []
    for entry in entries:
        sampled = procs.get(entry.pid)
        if sampled is None:
            continue
        try:
            with sampled.oneshot():
                cpu, rss = sampled.cpu_percent(None), sampled.memory_info().rss
                threads = sampled.num_threads()
        except psutil.Error:
            continue
        rows.append(_vm_row(entry, cpu, rss, threads))
    return rows


def _vm_row(entry: VmEntry, cpu: float, rss: int, threads: int) -> dict[str, object]:
    return {
        "LABEL": entry.label,
        "PID": entry.pid,
        "MANAGED": entry.managed,
        "STATE": entry.state,
        "VCPUS": entry.vcpus,
        "MEM_MB": entry.memory_mb,
        "CPU%": round(cpu, 1),
        "RSS_MB": rss // _MB,
        "THREADS": threads,
    }


def parse_show(
    call: ActionCall, output_format: OutputFormat, terse_flag: bool
) -> tuple[OutputFormat, bool]:
    """SHOW's suboptions (TERSE, MACHINE, JSON, TITLE) plus ``-o``/``-X``: the format and
    whether terse lines get header lines."""
    from ctys.formats.request import Layout, parse_output
    from ctys.formats.titles import Title

    output, rest = parse_output("SHOW", call.suboptions, output_format, terse_flag=terse_flag)
    if rest or output.layout is not Layout.PLAIN or output.sort is not None:
        bad = rest[0].raw if rest else output.layout.value
        raise UsageError(f"unknown SHOW suboption '{bad}' (valid: TERSE, MACHINE, JSON, TITLE)")
    return output.fmt, output.title is not Title.NONE


def write_show(
    host: Mapping[str, object],
    vms: Sequence[Mapping[str, object]],
    fmt: OutputFormat,
    out: TextIO,
    *,
    title: bool = False,
) -> None:
    """Print SHOW's two parts in ``fmt``."""
    from ctys.safestream import write_text
    from ctys.tables import TERSE_SEPARATOR, escape_terse, render, text_value

    if fmt is OutputFormat.JSON:
        write_text(out, json.dumps({"host": dict(host), "vms": [dict(v) for v in vms]}, indent=2))
        return
    if fmt is OutputFormat.TERSE:
        sep = TERSE_SEPARATOR
        if title:
            out.write(sep.join(("HOST", *HOST_FIELDS)) + "\n")
        out.write(sep.join(["HOST", *(escape_terse(text_value(host[f])) for f in HOST_FIELDS)]))
        out.write("\n")
        if title:
            out.write(sep.join(("VM", *VM_FIELDS)) + "\n")
        for vm in vms:
            out.write(sep.join(["VM", *(escape_terse(text_value(vm[f])) for f in VM_FIELDS)]))
            out.write("\n")
        return
    render([{"HOST": f, "VALUE": host[f]} for f in HOST_FIELDS], ("HOST", "VALUE"), fmt, out)
    out.write("\n")
    render(vms, VM_FIELDS, fmt, out)


def run_show(call: ActionCall, ctx: RunContext) -> int:
    """``-a SHOW[=TERSE|MACHINE|JSON][,TITLE]``; exit status 0."""
    from ctys.inventory.settings import this_host
    from ctys.plugins.qemu.actions.sessionmatch import running_entries

    inv = ctx.invocation
    fmt, title = parse_show(call, inv.output_format, inv.terse)
    psutil.cpu_percent(None)
    vms = vm_rows(running_entries(ctx))
    host = host_row(this_host(), len(vms), psutil.cpu_percent(None))
    write_show(host, vms, fmt, ctx.out, title=title)
    return 0
