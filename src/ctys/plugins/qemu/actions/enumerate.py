"""ENUMERATE: scan folders for VM conf files, report them and fill the inventory."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ctys.address.model import BASEPATH_KEYS, base_paths_from_suboption
from ctys.address.scan import Progress, require_base_paths
from ctys.conf.vmstate import DEFAULT_FILTER, StateFilter, parse_matchvstat
from ctys.errors import UsageError
from ctys.formats.request import Layout, OutputRequest, parse_output
from ctys.inventory.fields import FIELDS, MACHINE_FIELDS, canonical_field
from ctys.inventory.machine import is_field_suboption, selected_fields, write_records
from ctys.inventory.record import InventoryRecord
from ctys.inventory.settings import InventoryChoice, inventory_choice, this_host
from ctys.invocation import ActionCall, CacheControl, OutputFormat
from ctys.pathutil import canonical_path
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.enumscan import EVERYWHERE, enumerate_scan, scan_scope
from ctys.plugins.qemu.confs.reader import qemu_base_paths
from ctys.safestream import raw_stream

if TYPE_CHECKING:
    from ctys.inventory.store import HostScan

DEFAULT_TABLE_FIELDS = ("LABEL", "UUID", "MAC", "TCP", "ACCELERATOR", "HOST", "PNAME")
# MAXKEY: the original's record key (it forces TERSE).
MAXKEY_FIELDS = ("HOST", "STYPE", "LABEL", "PNAME", "UUID", "MAC")
# TERSE alone prints what the original's does: the containing machine, type, label and ID.
_DEFAULT_FIELDS = {
    OutputFormat.TABLE: DEFAULT_TABLE_FIELDS,
    OutputFormat.TERSE: ("HOST", "STYPE", "LABEL", "PNAME"),
}


@dataclass(frozen=True)
class EnumerateRequest:
    base_paths: tuple[Path, ...]
    output: OutputRequest
    fields: tuple[str, ...]
    include_ignored: bool = False
    states: StateFilter = DEFAULT_FILTER

    @property
    def fmt(self) -> OutputFormat:
        return self.output.fmt


def parse_enumerate(call: ActionCall, ctx: RunContext) -> EnumerateRequest:
    """ENUMERATE[=BASEPATH:/a%/b][,ALL][,MATCHVSTAT:s%s][,<field>...][,TERSE|MACHINE|JSON]
    [,TITLE|TITLEIDX|TITLEIDXASC][,SORT[:...]][,TAB_GEN:<columns>] (``ctys.formats``).

    Fields: ``-o`` (in its order), else the field suboptions (the original's names and
    aliases, in record order, HOST first), else MACHINE's 47, else the default of the
    format. MACHINE is TERSE; a header line only with TITLE/TITLEIDX/TITLEIDXASC (the
    original's names), a table always has one."""
    inv = ctx.invocation
    output, rest = parse_output(
        "ENUMERATE", call.suboptions, inv.output_format, terse_flag=inv.terse
    )
    bases: list[Path] = []
    chosen: list[str] = []
    include_ignored = False
    states = DEFAULT_FILTER
    for sub in rest:
        if sub.key in BASEPATH_KEYS:
            bases.extend(base_paths_from_suboption(sub))
        elif sub.key == "ALL" and not sub.args:
            include_ignored = True
        elif sub.key == "MATCHVSTAT":
            states = parse_matchvstat(sub.args)
        elif sub.key == "NONE" and not sub.args:
            chosen.clear()  # the original's NONE: forget the fields chosen so far
        elif sub.key == "MAXKEY" and not sub.args:
            chosen += MAXKEY_FIELDS
            output = (
                replace(output, fmt=OutputFormat.TERSE)
                if output.fmt is OutputFormat.TABLE
                else output
            )
        elif is_field_suboption(sub.key, sub.args):
            chosen.append(sub.key)
        else:
            raise UsageError(f"unknown ENUMERATE suboption '{sub.raw}'")
    if inv.output_fields:
        fields = tuple(f for name in inv.output_fields for f in _expand_field(name))
    elif chosen:
        fields = selected_fields(chosen)
    elif output.machine:
        fields = MACHINE_FIELDS
    else:
        fields = _DEFAULT_FIELDS.get(output.fmt, FIELDS)
    return EnumerateRequest(tuple(bases), output, fields, include_ignored, states)


def _expand_field(name: str) -> tuple[str, ...]:
    return FIELDS if name.upper() == "ALL" else (canonical_field(name),)


@contextmanager
def _progress(err: TextIO) -> Iterator[Progress | None]:
    """A transient progress line on stderr while scanning, only for a terminal."""
    if not err.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress as RichProgress
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = RichProgress(
        SpinnerColumn(),
        TextColumn("scanning: {task.fields[entries]} entries, {task.fields[vms]} VMs"),
        TimeElapsedColumn(),
        console=Console(file=raw_stream(err)),  # rich's own sequences; the text is fixed
        transient=True,
    )
    task = bar.add_task("scan", total=None, entries=0, vms=0)
    last = [0.0]

    def update(entries: int, vms: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.1:
            last[0] = now
            bar.update(task, entries=entries, vms=vms)

    with bar:
        yield update


def _printed_fields(req: EnumerateRequest, ctx: RunContext) -> tuple[str, ...] | None:
    """The fields of the records that the output needs (the others need not be loaded),
    or None for all: TAB_GEN prints from the whole record, the DB directory stores it."""
    if req.output.layout is not Layout.PLAIN or ctx.invocation.db_dir is not None:
        return None
    return ("HOST", *req.fields)  # HOST: SORT:EACH groups by it


def _render(records: Sequence[InventoryRecord], req: EnumerateRequest, ctx: RunContext) -> None:
    write_records(records, req.fields, req.output, ctx.out, group=_host_of)


def _host_of(row: Mapping[str, object]) -> object:
    return row.get("HOST")


def run_enumerate(call: ActionCall, ctx: RunContext) -> int:
    """The ENUMERATE action. Broken conf files are reported (file:line) and skipped; the
    exit status is 0 when the scan finished, even with skipped files."""
    req = parse_enumerate(call, ctx)
    choice = inventory_choice(ctx.invocation)
    if choice.control is CacheControl.LIST:
        return _print_inventory(choice, req, ctx)
    if choice.control is CacheControl.CLEAR:
        clear_inventory(choice)
    require_base_paths(req.base_paths)
    if ctx.invocation.db_dir is not None:  # before the scan: nothing stored on this error
        from ctys.inventory.dbdir import require_db_dir

        require_db_dir(Path(ctx.invocation.db_dir).expanduser())
    bases = req.base_paths or qemu_base_paths()
    roots = [canonical_path(b) for b in bases]
    with _progress(ctx.err) as progress:
        result = enumerate_scan(
            choice,
            bases,
            roots,
            include_ignored=req.include_ignored,
            progress=progress,
            states=req.states,
            fields=_printed_fields(req, ctx),
        )
    records = result.records
    for line in result.warnings:
        print(f"ctys: warning: {line}", file=ctx.err)
    for line in result.errors:
        print(f"ctys: skipped {line}", file=ctx.err)
    for line in result.exec_warnings:  # confs that run programs as the caller
        print(line, file=ctx.err)
    if ctx.invocation.db_dir is not None:  # the original's DB directory: DIR/enum.fdb
        from ctys.inventory.dbdir import store_scan_in_db_dir

        scope = scan_scope(choice, roots)
        store_scan_in_db_dir(Path(ctx.invocation.db_dir).expanduser(), this_host(), scope, records)
    _render(records, req, ctx)
    if ctx.debug or (req.fmt is OutputFormat.TABLE and ctx.err.isatty()):
        where = f"; inventory {choice.path}" if choice.path else ""
        print(
            f"{len(records)} VMs, {len(result.errors)} skipped, {result.entries} entries scanned"
            f"{where}",
            file=ctx.err,
        )
    return 0


def _print_inventory(choice: InventoryChoice, req: EnumerateRequest, ctx: RunContext) -> int:
    from ctys.inventory.store import Inventory

    if choice.path is None or not choice.path.exists():
        print(f"ctys: no inventory at {choice.path}", file=ctx.err)
        return 1
    with Inventory.open_readonly(choice.path) as inv:
        records = inv.all()
    _render(records, req, ctx)
    return 0


# --- remote targets ------------------------------------------------------------------


def remote_scan_roots(call: ActionCall, control: CacheControl) -> list[Path]:
    """The folders whose rows of a remote host one remote ENUMERATE replaces: its absolute
    ``BASEPATH`` folders; ``/`` (every row of that host) with ``-C rebuild``, without
    ``BASEPATH`` (the remote's default folders are not known here) or for a ``~``/relative
    folder (it means a folder of the remote user)."""
    if control is CacheControl.REBUILD:
        return [EVERYWHERE]
    roots: list[Path] = []
    for sub in call.suboptions:
        if sub.key in BASEPATH_KEYS:
            for arg in sub.args:
                if not arg.startswith("/"):
                    return [EVERYWHERE]
                roots.append(Path(arg))
    return roots or [EVERYWHERE]


def store_host_scan(
    choice: InventoryChoice, host: str, roots: Sequence[Path], records: list[InventoryRecord]
) -> int:
    """Replace ``host``'s rows under ``roots`` by ``records`` in the local inventory, in one
    transaction (the rows of a remote ENUMERATE; ``host`` as the user named the target)."""
    from ctys.inventory.store import Inventory

    assert choice.path is not None
    choice.path.parent.mkdir(parents=True, exist_ok=True)
    with Inventory.open(choice.path) as inv:
        return inv.replace_scan(host, roots, records)


def store_host_scans(choice: InventoryChoice, scans: Sequence[HostScan]) -> int:
    """Replace each host's rows under its roots by its record values in the local inventory
    (the remote hosts of an ENUMERATE merge; ``Inventory.replace_scans``: a host's rows
    whole, many hosts in one transaction)."""
    from ctys.inventory.store import Inventory

    assert choice.path is not None
    choice.path.parent.mkdir(parents=True, exist_ok=True)
    with Inventory.open(choice.path) as inv:
        return inv.replace_scans(scans)


def clear_inventory(choice: InventoryChoice) -> None:
    """``-C clear``: drop every row before a new scan."""
    from ctys.inventory.store import Inventory

    if choice.path is not None and choice.path.exists():
        with Inventory.open(choice.path) as inv:
            inv.clear()


def render_records(records: Sequence[InventoryRecord], call: ActionCall, ctx: RunContext) -> None:
    """Print records (of several hosts) as ENUMERATE prints its own."""
    _render(records, parse_enumerate(call, ctx), ctx)
