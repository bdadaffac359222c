"""How QEMU's LIST and ENUMERATE answers of several targets merge (``MergedAction``).

- LIST: each target runs ``LIST=JSON -o ALL``; the rows of all are printed as one table
  with a HOST column first (terse/JSON likewise). Those words (with no suboption that
  changes the rows) are answered by the lean ``ctys-rows`` entry (``rowsentry``).
- ENUMERATE: each remote target runs ``ENUMERATE=JSON -o ALL -C off``; its rows go into
  the LOCAL inventory as rows of that host (as the user named it), then all are printed.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING

from ctys.argscan import INVENTORY_KEY
from ctys.errors import UsageError
from ctys.invocation import ActionCall, CacheControl, Suboption, Target
from ctys.plugins.answers import RowsEntry, TargetRows
from ctys.plugins.base import RunContext

if TYPE_CHECKING:
    from ctys.plugins.qemu.actions.listout import ListRequest


def _list_request(call: ActionCall, ctx: RunContext) -> ListRequest:
    """The LIST request of the merged rows (``HOST`` in ``-o`` is the column added here)."""
    from ctys.plugins.qemu.actions.listout import HOST_FIELD, parse_list_request

    inv = ctx.invocation
    fields = [f for f in inv.output_fields if f.upper() != HOST_FIELD]
    return parse_list_request(call, fields, inv.output_format, terse_flag=inv.terse)


def _json_rows_options(
    call: ActionCall, kept: Sequence[Suboption], options: MutableMapping[str, str]
) -> None:
    """The target answers JSON rows of every field; this host formats the merged rows."""
    options["a"] = ",".join([f"{call.name}=JSON", *(s.raw for s in kept)])
    options["o"] = "ALL"
    options.pop("X", None)  # (-X is a format too)


class ListMerge:
    """LIST of several targets: one table, HOST first."""

    def target_options(
        self,
        call: ActionCall,
        target: Target,
        options: MutableMapping[str, str],
        *,
        clear_done: bool,
    ) -> None:
        from ctys.plugins.qemu.actions.listout import target_suboptions

        _json_rows_options(call, target_suboptions(call), options)

    def prepare(self, call: ActionCall, ctx: RunContext) -> None:
        _list_request(call, ctx)  # fail before the fan-out

    def rows_entry(self, args: Sequence[str]) -> RowsEntry | None:
        from ctys.plugins.qemu.actions.rowsentry import ROWS_MODULE, ROWS_SCRIPT, lean_args

        return RowsEntry(ROWS_SCRIPT, ROWS_MODULE) if lean_args(args) else None

    def merge(self, call: ActionCall, answers: Sequence[TargetRows], ctx: RunContext) -> int:
        from ctys.plugins.qemu.actions.listout import write_list_rows
        from ctys.remote.merge import rows_with_host

        rows: list[dict[str, object]] = []
        for answer in answers:
            host_rows = rows_with_host(answer.name, answer.rows)
            if not answer.target.is_local:
                # The original's PM of a remote VM: the host as the user named it (as
                # ENUMERATE's HOST).
                host_rows = [{**row, "PM": answer.name} for row in host_rows]
            rows += host_rows
        write_list_rows(rows, _list_request(call, ctx), ctx.out, host_column=True)
        return 0


class EnumerateMerge:
    """ENUMERATE of several targets: the remote rows fill the local inventory."""

    def target_options(
        self,
        call: ActionCall,
        target: Target,
        options: MutableMapping[str, str],
        *,
        clear_done: bool,
    ) -> None:
        from ctys.formats.request import OUTPUT_KEYS

        _json_rows_options(call, [s for s in call.suboptions if s.key not in OUTPUT_KEYS], options)
        if not target.is_local:
            # The remote keeps no inventory of its own: its rows are stored here.
            options["C"] = CacheControl.OFF.value
            options.pop(INVENTORY_KEY, None)
            options.pop("p", None)  # its rows go to this host's DB directory
        elif clear_done:
            options.pop("C", None)

    def prepare(self, call: ActionCall, ctx: RunContext) -> None:
        from ctys.inventory.settings import inventory_choice
        from ctys.plugins.qemu.actions.enumerate import clear_inventory, parse_enumerate

        parse_enumerate(call, ctx)  # fail before the fan-out
        choice = inventory_choice(ctx.invocation)
        if choice.control is CacheControl.LIST:
            raise UsageError("-C list prints the local inventory: give no targets")
        if choice.control is CacheControl.CLEAR:
            clear_inventory(choice)

    def rows_entry(self, args: Sequence[str]) -> RowsEntry | None:
        return None  # the scan's rows come from ctys itself

    def merge(self, call: ActionCall, answers: Sequence[TargetRows], ctx: RunContext) -> int:
        from ctys.inventory.record import InventoryRecord, record_from_values
        from ctys.inventory.settings import inventory_choice
        from ctys.inventory.store import HostScan
        from ctys.plugins.qemu.actions.enumerate import (
            remote_scan_roots,
            render_records,
            store_host_scans,
        )
        from ctys.remote.merge import record_values

        choice = inventory_choice(ctx.invocation)
        # A local ctys stored its own rows (under this host's name, its HOST) already.
        found = [record_values(None if a.target.is_local else a.name, a.rows) for a in answers]
        remote = [
            (a, values) for a, values in zip(answers, found, strict=True) if not a.target.is_local
        ]
        if choice.enabled and remote:
            # Stored as values (no records made for them), many hosts a transaction.
            store_host_scans(
                choice,
                [HostScan(a.name, remote_scan_roots(a.call, choice.control), v) for a, v in remote],
            )
        del remote
        records: list[InventoryRecord] = []
        for i, values in enumerate(found):
            records += map(record_from_values, values)
            found[i] = []  # not both in memory at once (1M rows: hundreds of MB each)
        render_records(records, call, ctx)
        return 0
