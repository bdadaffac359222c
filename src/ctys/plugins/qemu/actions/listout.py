"""LIST's output: its suboptions parsed into a ``ListRequest`` and its rows printed, on
one host or merged from several (``remote_rows``).

Two kinds of fields: ctys' own (``LABEL STATE PID USER MANAGED ACCEL VNC ...``, chosen by
``-o``, the default table) and the original's 22-field record (``ctys.formats.listfields``,
chosen by field suboptions such as ``LIST=LABEL,ID,PID``, ``ALL``, ``MAXKEY``, or whole by
``MACHINE``, ``TAB_TCP``, ``TAB_GEN``), printed in the record's order as the original
does. The format suboptions, TITLE*, SORT and TAB_* are ``ctys.formats.request``'s."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, TextIO

from ctys.errors import UsageError
from ctys.formats.listfields import (
    ALL_SELECTION,
    LIST_RECORD,
    MAXKEY_SELECTION,
    in_list_order,
    is_list_field,
    list_field,
)
from ctys.formats.request import Layout, OutputRequest, RecordShape, parse_output, write_rows
from ctys.formats.titles import Title
from ctys.invocation import ActionCall, OutputFormat, Suboption
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.list import (
    DEFAULT_TABLE_FIELDS,
    exec_warnings,
    list_fields,
    list_rows,
    select_ctys_fields,
)

if TYPE_CHECKING:
    from ctys.formats.tabtcp import TabTcp
    from ctys.plugins.qemu.vm.runtime import RuntimeDir
    from ctys.plugins.qemu.vmconfig import VmConfig

HOST_FIELD = "HOST"
_PKG = "PKG"
_ALLVMS = "ALLVMS"  # also the known VMs that do not run (``liststopped``)
_MODIFIERS = frozenset({"IP", "DNS"})
_SELECTIONS = {"ALL": ALL_SELECTION, "MAXKEY": MAXKEY_SELECTION}


class Site(Enum):
    """Which sessions LIST shows: servers (the VMs), clients (their viewers) or both."""

    SERVER = "SERVER"
    CLIENT = "CLIENT"
    BOTH = "BOTH"
    TUNNEL = "TUNNEL"


# Suboptions a target of a merged LIST is sent (the rest is formatting, done here).
_TARGET_KEYS = frozenset({*(s.value for s in Site), _PKG, _ALLVMS})


@dataclass(frozen=True)
class ListRequest:
    """LIST's output choices: the output request, the fields to print, whether they are
    the original's record fields, which sessions (``site``), the TAB_TCP columns, the
    PKG filter (``None``: every type) and notes for stderr."""

    output: OutputRequest
    fields: tuple[str, ...]
    original: bool = False
    site: Site = Site.BOTH
    tab_tcp: TabTcp | None = None
    packages: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()
    all_vms: bool = False  # ALLVMS: the stopped known VMs too, state "shut off"

    @property
    def fmt(self) -> OutputFormat:
        return self.output.fmt

    @property
    def title(self) -> bool:
        """Whether a header line is printed."""
        return self.fmt is OutputFormat.TABLE or self.output.title is not Title.NONE

    def lists_servers(self) -> bool:
        """Whether the VMs are listed at all (CLIENT and TUNNEL list none: QEMU has no
        clients of its own, its viewers are other programs; PKG without QEMU)."""
        if self.packages is not None and "QEMU" not in self.packages:
            return False
        return self.site in (Site.SERVER, Site.BOTH)


def parse_list_request(
    call: ActionCall,
    output_fields: Sequence[str],
    output_format: OutputFormat,
    *,
    terse_flag: bool = False,
) -> ListRequest:
    """LIST's suboptions plus ``-o`` (and ``-X``) into a ``ListRequest``; ``UsageError``
    for an unknown suboption or field name."""
    output, rest = parse_output(
        "LIST", call.suboptions, output_format, terse_flag=terse_flag, tab_tcp=True
    )
    chosen: list[str] = []
    site: Site | None = None
    packages: tuple[str, ...] | None = None
    notes: list[str] = []
    all_vms = False
    for sub in rest:
        key = sub.key
        if key == _ALLVMS and not sub.args:
            all_vms = True
        elif key in Site.__members__ and not sub.args:
            if site is not None:
                raise UsageError(f"LIST suboptions {site.value} and {key} exclude each other")
            site = Site(key)
        elif key == _PKG:
            if not sub.args:
                raise UsageError("LIST suboption PKG needs the session types: PKG:QEMU[%TYPE...]")
            packages = tuple(a.strip().upper() for a in sub.args)
        elif key == "NONE" and not sub.args:
            chosen.clear()
        elif key in _SELECTIONS and not sub.args:
            chosen += _SELECTIONS[key]
        elif key in _MODIFIERS and not sub.args:
            if key == "DNS":
                chosen.append("TCP")
                notes.append("ctys: note: LIST DNS shows the guest's address, not its DNS name")
        elif is_list_field(key) and not sub.args:
            chosen.append(list_field(key).name)
        else:
            raise UsageError(
                f"unknown LIST suboption '{sub.raw}' (fields: {', '.join(LIST_RECORD)}; ALL, "
                "MAXKEY, NONE, TERSE, MACHINE, JSON, TITLE, TITLEIDX, TITLEIDXASC, SORT, "
                "TAB_TCP, TAB_GEN, CLIENT, SERVER, BOTH, PKG, ALLVMS)"
            )
    if any(sub.key == "MAXKEY" for sub in rest) and output.fmt is OutputFormat.TABLE:
        output = output.terse_unless_chosen()
    whole = output.machine or output.layout is not Layout.PLAIN
    original = not output_fields and (whole or bool(chosen))
    if output_fields:
        fields = select_ctys_fields(output_fields, output.fmt)
    elif whole:
        fields = LIST_RECORD
    elif chosen:
        fields = in_list_order(chosen)
    else:
        fields = DEFAULT_TABLE_FIELDS if output.fmt is OutputFormat.TABLE else list_fields()
    tab = None
    if output.layout is Layout.TAB_TCP:
        from ctys.formats.tabtcp import Guest, TabTcp, parse_widths

        guest = Guest.TCP if "TCP" in chosen else Guest.MAC if "MAC" in chosen else Guest.NONE
        tab = TabTcp(parse_widths(output.tab_args), guest, show_id="ID" in chosen)
    return ListRequest(
        output, fields, original, site or Site.BOTH, tab, packages, tuple(notes), all_vms
    )


def target_suboptions(call: ActionCall) -> list[Suboption]:
    """The suboptions a target of a merged LIST runs (which sessions, PKG); the fields,
    formats, SORT and TAB_* are applied here to the merged rows."""
    return [s for s in call.suboptions if s.key in _TARGET_KEYS]


def _title(name: str) -> tuple[str, int | None]:
    if name in LIST_RECORD:
        spec = list_field(name)
        return spec.title, spec.position
    return name, None


def _ctys_title(name: str) -> tuple[str, int | None]:
    return name, None


def _position(name: str) -> int:
    return list_field(name).position


def write_list_rows(
    rows: Sequence[Mapping[str, object]],
    request: ListRequest,
    out: TextIO,
    *,
    host_column: bool = False,
) -> None:
    """Print LIST's rows as ``request`` asks; ``host_column``: rows of several targets,
    ctys' fields get ``HOST`` first (the original's record has its PM)."""
    fields = request.fields
    if host_column and not request.original:
        fields = (HOST_FIELD, *(f for f in fields if f != HOST_FIELD))
    shape = RecordShape(LIST_RECORD, _title if request.original else _ctys_title, _position)
    write_rows(rows, fields, request.output, shape, out, tab_tcp=request.tab_tcp, group=_host_of)


def _host_of(row: Mapping[str, object]) -> object:
    return row.get(HOST_FIELD) or row.get("PM")


# --- running it ------------------------------------------------------------------------

_NO_CLIENTS = (
    "ctys: note: QEMU has no client sessions of its own (its viewers are other programs): "
    "LIST {site} shows none"
)


def run_list(
    call: ActionCall, ctx: RunContext, runtime: RuntimeDir, confs: Sequence[VmConfig]
) -> int:
    """``-a LIST[=SUBOPTS]``: print the running VMs (with ALLVMS also the stopped known
    ones) as asked; exit status 0."""
    from ctys.inventory.settings import this_host
    from ctys.plugins.qemu.actions.list import list_vms

    inv = ctx.invocation
    request = parse_list_request(call, inv.output_fields, inv.output_format, terse_flag=inv.terse)
    for note in request.notes:
        print(note, file=ctx.err)
    if request.site in (Site.CLIENT, Site.TUNNEL):
        print(_NO_CLIENTS.format(site=request.site.value), file=ctx.err)
    entries = list_vms(runtime, confs, err=ctx.err) if request.lists_servers() else []
    if request.all_vms and request.lists_servers():
        from ctys.inventory.settings import inventory_choice
        from ctys.plugins.qemu.actions.liststopped import with_stopped

        entries = with_stopped(entries, confs, inventory_choice(inv).path, this_host())
    wanted = LIST_RECORD if request.output.layout is not Layout.PLAIN else request.fields
    write_list_rows(list_rows(entries, wanted, this_host()), request, ctx.out)
    for line in exec_warnings(entries, confs):
        print(line, file=ctx.err)
    return 0
