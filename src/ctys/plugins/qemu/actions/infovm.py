"""INFO=<address>[,JSON][,LOG[:LINES]]: one VM's details (``vmdetails``) or its logs.

LOG is a suboption of INFO, not an action of its own: the original had no LOG action,
INFO already runs on the VM's host (``-t QEMU -a INFO=l:vm1 host``), and the address is
resolved once, as for the details. Sections print as ``name: value`` blocks and tables,
or as one JSON object; every value and log line shown escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

from ctys.address.model import MachineSelector
from ctys.errors import UsageError
from ctys.invocation import ActionCall, OutputFormat, Suboption
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.diskinfo import human_size
from ctys.plugins.qemu.actions.vmdetails import VmDetails
from ctys.plugins.qemu.actions.vmlogs import DEFAULT_LINES, INFO_LINES, MAX_LINES, LogTail
from ctys.safestream import write_text
from ctys.tables import render, text_value
from ctys.textescape import printable


@dataclass(frozen=True)
class VmInfoRequest:
    """What INFO=<address> prints: the details or only the logs, as a table or JSON."""

    selector: MachineSelector
    json: bool = False
    log_lines: int | None = None  # LOG[:LINES]: only the logs, their last LINES lines


def is_vm_info(call: ActionCall) -> bool:
    """Whether the INFO call names a VM (an address term or BASEPATH)."""
    from ctys.plugins.qemu.requests import _split_address

    selector, _ = _split_address(call)
    return not selector.empty


def _lines(sub: Suboption) -> int:
    if not sub.args:
        return DEFAULT_LINES
    text = sub.args[0]
    if len(sub.args) != 1 or not text.isdigit() or not 0 < int(text) <= MAX_LINES:
        raise UsageError(f"INFO suboption '{sub.raw}': LOG:LINES takes 1..{MAX_LINES} lines")
    return int(text)


def parse_vm_info(call: ActionCall, output_format: OutputFormat) -> VmInfoRequest:
    """INFO's address and its JSON and LOG[:LINES] suboptions (``-o JSON`` = JSON)."""
    from ctys.plugins.qemu.requests import _split_address

    selector, rest = _split_address(call)
    as_json = output_format is OutputFormat.JSON
    lines = None
    for sub in rest:
        if sub.key == "JSON" and not sub.args:
            as_json = True
        elif sub.key == "LOG":
            lines = _lines(sub)
        else:
            raise UsageError(
                f"unknown INFO suboption '{sub.raw}' with an address (JSON, LOG[:LINES])"
            )
    return VmInfoRequest(selector, as_json, lines)


def _block(title: str, values: Mapping[str, object], out: TextIO) -> None:
    """``title:`` and one ``key  value`` line per known value (unknown ones are left out)."""
    print(f"{title}:", file=out)
    values = {k: v for k, v in values.items() if v is not None}
    width = max((len(k) for k in values), default=0)
    for key, value in values.items():
        print(f"  {key.ljust(width)}  {printable(text_value(value))}", file=out)


def _table(
    title: str, rows: Sequence[Mapping[str, object]], fields: Sequence[str], out: TextIO
) -> None:
    print(f"{title}:", file=out)
    if not rows:
        print("  (none)", file=out)
        return
    render(rows, fields, OutputFormat.TABLE, out)


def disk_rows(details: VmDetails) -> list[dict[str, object]]:
    """The disks as table rows, sizes in binary units."""
    rows: list[dict[str, object]] = []
    for disk in details.disks:
        top = disk.top
        rows.append(
            {
                "DISK": str(disk.path),
                "FORMAT": top.format if top else None,
                "VIRTUAL": human_size(top.virtual_size) if top else None,
                "ON DISK": human_size(top.actual_size) if top else None,
                "BACKING": " <- ".join(layer.filename for layer in disk.chain[1:]) or None,
                "ERROR": disk.error,
            }
        )
    return rows


def write_logs(logs: Sequence[LogTail], out: TextIO) -> None:
    """Each log's path and last lines (already escaped by ``vmlogs``)."""
    for tail in logs:
        if tail.path is None:
            print(f"{tail.name}: none kept", file=out)
            continue
        where = "" if tail.live else " (last run)"
        print(f"{tail.name}{where}: {printable(str(tail.path))}", file=out)
        for line in tail.lines:
            print(f"  {line}", file=out)


def write_details(details: VmDetails, out: TextIO) -> None:
    """The sections of ``details`` for a reader."""
    _block("VM", {"label": details.label, "vmid": details.vmid, "state": details.state}, out)
    _block("Conf", details.conf, out)
    _table(
        "Disks",
        disk_rows(details),
        ("DISK", "FORMAT", "VIRTUAL", "ON DISK", "BACKING", "ERROR"),
        out,
    )
    nics = [{k.upper(): v for k, v in n.items()} for n in details.nics]
    _table("NICs", nics, ("NIC", "MAC", "IP", "IFNAME"), out)
    _block("Consoles", details.consoles, out)
    if details.runtime is not None:
        shown = dict(details.runtime)
        rss = shown.get("rss_bytes")
        shown["rss_bytes"] = human_size(rss) if isinstance(rss, int) else rss
        _block("Runtime", shown, out)
    inv = [{k.upper(): v for k, v in r.items()} for r in details.inventory]
    _table("Inventory", inv, ("HOST", "LABEL", "ID", "MAC", "IP", "VMSTATE"), out)
    print("Logs:", file=out)
    write_logs(details.logs, out)


def run_vm_info(call: ActionCall, ctx: RunContext) -> int:
    """Print the details (or with LOG only the logs) of the VM the INFO call names."""
    from ctys.inventory.settings import inventory_choice
    from ctys.plugins.qemu.actions.vmdetails import vm_details
    from ctys.plugins.qemu.vm.runtime import RuntimeDir

    req = parse_vm_info(call, ctx.invocation.output_format)
    lines = req.log_lines if req.log_lines is not None else INFO_LINES
    inventory = inventory_choice(ctx.invocation).path
    details = vm_details(RuntimeDir(), req.selector, inventory, log_lines=lines)
    if req.json:
        data = {"vmid": details.vmid, "logs": [t.as_dict() for t in details.logs]}
        chosen = data if req.log_lines is not None else details.as_dict()
        write_text(ctx.out, json.dumps(chosen, indent=2))  # json escapes control characters
    elif req.log_lines is not None:
        write_logs(details.logs, ctx.out)
    else:
        write_details(details, ctx.out)
    return 0
