"""Where an action runs: in this process (the one local target), or on each target.

Targets other than ``localhost``/``127.0.0.1`` (without a user) are reached with ssh
(``ctys.remote.ssh``); local targets among several run as a ``ctys`` subprocess, so every
target is one process the fan-out (``ctys.remote.fanout``) can time out and kill alike.

How the answers come back depends on the action:

- LIST: each target runs ``LIST=JSON -o ALL``; the rows of all are printed as one table
  with a HOST column first (terse/JSON likewise).
- ENUMERATE: each remote target runs ``ENUMERATE=JSON -o ALL -C off``; its rows go into
  the LOCAL inventory as rows of that host (as the user named it), then all are printed.
- anything else: each target's output, every line prefixed ``host: ``.

A target that cannot be reached, hangs, or has no ctys gives one ``ctys: host: ...`` line;
the others are reported normally; the exit status is the worst of all.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TextIO

from ctys.errors import CtysError, UsageError
from ctys.invocation import ActionCall, CacheControl, Invocation, Target
from ctys.remote.options import invocation_options, options_argv, target_invocation
from ctys.remote.ssh import default_control_dir, ssh_argv, target_name

if TYPE_CHECKING:
    # The fan-out machinery (threads, subprocess) loads only when a target needs it: the
    # common one-local-target command line stays fast to start.
    from ctys.remote.fanout import RemoteSettings, TargetResult

__all__ = ["RemoteSettings", "dispatch", "target_args"]

LocalRunner = Callable[[Invocation, TextIO, TextIO], int]

_MERGED_ACTIONS = frozenset({"LIST", "ENUMERATE"})
_FORMAT_KEYS = frozenset({"TERSE", "MACHINE", "JSON", "TITLE"})


def dispatch(
    invocation: Invocation,
    out: TextIO,
    err: TextIO,
    run_local: LocalRunner,
    *,
    settings: RemoteSettings | None = None,
) -> int:
    """Run ``invocation``'s action on its targets; ``run_local`` runs it in this process."""
    targets = invocation.targets
    if len(targets) == 1 and targets[0].is_local:
        target = targets[0]
        here = target_invocation(invocation, target) if target.options else invocation
        if _may_place(here, target):
            from ctys.remote.placement import place_create

            placed = place_create(here, err, _settings(settings))
            if placed is not None:
                return _run_on_many(placed, out, err, _settings(settings))
        return run_local(here, out, err)
    return _run_on_many(invocation, out, err, _settings(settings))


def _settings(given: RemoteSettings | None) -> RemoteSettings:
    from ctys.remote.fanout import RemoteSettings

    return given or RemoteSettings.from_env()


# --- arguments for one target ------------------------------------------------------------


def target_args(invocation: Invocation, target: Target, *, clear_done: bool = False) -> list[str]:
    """The ctys arguments ``target`` runs: the global options merged with its own, the
    output turned into JSON for the actions whose rows are merged here."""
    own = target_invocation(invocation, target)
    values = invocation_options(own)
    call = own.action
    if call is not None and call.name in _MERGED_ACTIONS:
        kept = [s.raw for s in call.suboptions if s.key not in _FORMAT_KEYS]
        values["a"] = ",".join([f"{call.name}=JSON", *kept])
        values["o"] = "ALL"
        if call.name == "ENUMERATE":
            if not target.is_local:
                # The remote keeps no inventory of its own: its rows are stored here.
                values["C"] = CacheControl.OFF.value
                values.pop("c", None)
            elif clear_done:
                values.pop("C", None)
    return options_argv(values)


def _argv_for(
    invocation: Invocation, target: Target, settings: RemoteSettings, *, pty: bool = False
) -> list[str]:
    clear_done = invocation.cache_control is CacheControl.CLEAR
    args = target_args(invocation, target, clear_done=clear_done)
    if target.is_local:
        return [sys.executable, "-m", "ctys", *args]
    own = target_invocation(invocation, target)
    return ssh_argv(
        target,
        args,
        user=own.remote_user,
        pty=pty,
        connect_timeout=settings.connect_timeout,
        control_dir=default_control_dir(),
    )


# --- several targets -----------------------------------------------------------------------


def _run_on_many(invocation: Invocation, out: TextIO, err: TextIO, settings: RemoteSettings) -> int:
    call = invocation.action
    if call is None:
        raise UsageError("no action given: use -a ACTION (see ctys -h)")
    targets = invocation.targets
    for target in targets:
        own = target_invocation(invocation, target)  # bad target options fail before any run
        if call.name in _MERGED_ACTIONS and (own.action is None or own.action.name != call.name):
            raise UsageError(
                f"target {target_name(target)} runs another action than {call.name}, "
                "whose rows are merged"
            )
    if call.name == "ENUMERATE":
        return _enumerate_many(invocation, call, out, err, settings)
    if call.name == "LIST":
        return _list_many(invocation, call, out, err, settings)
    from ctys.remote.terminal import wants_terminal

    if wants_terminal(target_invocation(invocation, t) for t in targets):
        return _interactive(invocation, err, settings)
    results = _fan_out(invocation, settings)
    from ctys.remote.merge import report_streams

    for result in results:
        report_streams(result, out, err, debug=invocation.debug)
    return _worst(results)


def _fan_out(invocation: Invocation, settings: RemoteSettings) -> list[TargetResult]:
    from ctys.remote.fanout import run_on_targets

    argvs = {t: _argv_for(invocation, t, settings) for t in invocation.targets}
    return run_on_targets(
        invocation.targets,
        lambda t: argvs[t],
        max_parallel=settings.max_parallel,
        timeout=settings.timeout,
    )


def _worst(results: Sequence[TargetResult], extra: int = 0) -> int:
    return max([extra, *(r.returncode for r in results)])


def _list_many(
    invocation: Invocation, call: ActionCall, out: TextIO, err: TextIO, settings: RemoteSettings
) -> int:
    from ctys.plugins.qemu.actions.list import parse_list_request, render_host_rows
    from ctys.remote.merge import error_line, json_rows, report_streams, rows_with_host

    fields = [f for f in invocation.output_fields if f.upper() != "HOST"]
    parse_list_request(call, fields, invocation.output_format)  # fail before the fan-out
    results = _fan_out(invocation, settings)
    rows: list[dict[str, object]] = []
    bad = 0
    for result in results:
        report_streams(result, out, err, stdout=False, debug=invocation.debug)
        if result.error is not None or result.returncode != 0:
            continue
        try:
            rows += rows_with_host(result.target, json_rows(result))
        except CtysError as exc:
            print(error_line(replace(result, error=str(exc))), file=err)
            bad = 1
    render_host_rows(rows, call, invocation.output_fields, invocation.output_format, out)
    return _worst(results, bad)


def _enumerate_many(
    invocation: Invocation, call: ActionCall, out: TextIO, err: TextIO, settings: RemoteSettings
) -> int:
    from ctys.inventory.record import InventoryRecord
    from ctys.inventory.settings import inventory_choice
    from ctys.plugins.base import RunContext
    from ctys.plugins.qemu.actions.enumerate import (
        clear_inventory,
        parse_enumerate,
        remote_scan_roots,
        render_records,
        store_host_scan,
    )
    from ctys.remote.merge import error_line, json_rows, records_from_rows, report_streams

    ctx = RunContext(invocation=invocation, out=out, err=err)
    parse_enumerate(call, ctx)  # fail before the fan-out
    choice = inventory_choice(invocation)
    if choice.control is CacheControl.LIST:
        raise UsageError("-C list prints the local inventory: give no targets")
    if choice.control is CacheControl.CLEAR:
        clear_inventory(choice)
    results = _fan_out(invocation, settings)
    records: list[InventoryRecord] = []
    bad = 0
    for target, result in zip(invocation.targets, results, strict=True):
        report_streams(result, out, err, stdout=False, debug=invocation.debug)
        if result.error is not None or result.returncode != 0:
            continue
        try:
            rows = json_rows(result)
        except CtysError as exc:
            print(error_line(replace(result, error=str(exc))), file=err)
            bad = 1
            continue
        if target.is_local:
            # A local ctys stored its own rows (under this host's name) already.
            records += records_from_rows(None, rows)
            continue
        found = records_from_rows(result.target, rows)
        if choice.enabled:
            own_call = target_invocation(invocation, target).action or call
            roots = remote_scan_roots(own_call, choice.control)
            store_host_scan(choice, result.target, roots, found)
        records += found
    render_records(records, call, ctx)
    return _worst(results, bad)


def _interactive(invocation: Invocation, err: TextIO, settings: RemoteSettings) -> int:
    """``-z``: each target in turn on this terminal (``ssh -t``), e.g. to attach a console."""

    from ctys.remote.fanout import EXIT_NOT_FOUND, EXIT_SSH, classify

    status = 0
    for target in invocation.targets:
        argv = _argv_for(invocation, target, settings, pty=True)
        code = subprocess.run(argv, check=False).returncode
        error = classify(code, "") if code in (EXIT_SSH, EXIT_NOT_FOUND) else None
        if error is not None:
            print(f"ctys: {target_name(target)}: {error}", file=err)
        status = max(status, code)
    return status


# --- CREATE placement ------------------------------------------------------------------------


def _may_place(invocation: Invocation, target: Target) -> bool:
    """Placement applies to CREATE on the default target (no host given) with the inventory."""
    call = invocation.action
    return (
        call is not None
        and call.name == "CREATE"
        and target == Target("localhost")
        and invocation.cache_control is not CacheControl.OFF
    )
