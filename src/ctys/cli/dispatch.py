"""Where an action runs: in this process (the one local target), or on each target.

Targets other than ``localhost``/``127.0.0.1`` (without a user) are reached with ssh
(``ctys.remote.ssh``); local targets among several run as a ``ctys`` subprocess, so every
target is one process the fan-out (``ctys.remote.fanout``) can time out and kill alike.

How the answers come back, the plugin says (``ctys.plugins.base``): an action it merges
(``Plugin.merged``, e.g. a listing) runs on each target with the options the plugin
sets (JSON rows), and the plugin prints the rows of all; any other action: each target's
output, every line prefixed ``host: ``. An action the plugin places (``Plugin.placement``,
e.g. booting a VM) given no target runs on the least loaded host the inventory names.

A target that cannot be reached, hangs, or has no ctys gives one ``ctys: host: ...`` line;
the others are reported normally; the exit status is the worst of all.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TextIO

from ctys.errors import CtysError, UsageError
from ctys.invocation import ActionCall, CacheControl, CacheWhere, Invocation, Location, Target

if TYPE_CHECKING:
    from ctys.plugins.base import Forwarding, MergedAction, Placement, Plugin, RowsEntry

    # The fan-out machinery (threads, subprocess) loads only when a target needs it, and
    # the remote options and ssh modules only for a remote target or one with options:
    # the common one-local-target command line stays fast to start.
    from ctys.remote.fanout import RemoteSettings, TargetResult

__all__ = ["RemoteSettings", "dispatch", "target_args"]

LocalRunner = Callable[[Invocation, TextIO, TextIO], int]


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
    forwarding = _forwarding(invocation) if not invocation.dry_run else None
    if forwarding is not None:
        from ctys.remote.tunnel import run_forwarded

        given = _settings(settings)

        def argv_for(inv: Invocation, target: Target) -> list[str]:
            return _argv_for(inv, target, given)

        return run_forwarded(invocation, out, err, given, argv_for, forwarding)
    _target_notes(invocation, err)
    if len(targets) == 1 and targets[0].is_local:
        target = targets[0]
        here = invocation
        if target.options:
            from ctys.remote.options import target_invocation

            here = target_invocation(invocation, target)
        placement = _placement(here, target)
        if placement is not None:
            from ctys.argscan import parse_target
            from ctys.remote.placement import place_create

            placed = place_create(here, err, lambda: _settings(settings), placement, parse_target)
            if placed is not None:
                return _run_on_many(placed, out, err, _settings(settings))
        return run_local(here, out, err)
    return _run_on_many(invocation, out, err, _settings(settings))


def _target_notes(invocation: Invocation, err: TextIO) -> None:
    """The one-line notes of options without effect in a target's own ``(...)`` options
    (the global ones were printed by the entry point); they are not sent to the target."""
    for target in invocation.targets:
        if target.options:
            from ctys.argscan import FLAG_OPTIONS, scan_argv
            from ctys.remote.options import target_option_values
            from ctys.remote.ssh import target_name

            # Merged first: a group member's options repeat letters (last wins).
            values = target_option_values(target.options)
            words = [f"-{k}" if k in FLAG_OPTIONS else f"-{k}{v}" for k, v in values.items()]
            for note in scan_argv(words).notes:
                print(f"ctys: {target_name(target)}: {note}", file=err)


def _forwarding(invocation: Invocation) -> Forwarding | None:
    """``-L CF`` with a remote target and an action the plugin runs a client of
    (``Plugin.forwarding``): the client runs here through a tunnel (``ctys.remote.tunnel``).
    Other actions have no client: they run as usual."""
    call = invocation.action
    if (
        invocation.location is not Location.CONNECTIONFORWARDING
        or call is None
        or all(t.is_local for t in invocation.targets)
    ):
        return None
    plugin = _plugin_of(invocation)
    return plugin.forwarding(call.name) if plugin is not None else None


def _settings(given: RemoteSettings | None) -> RemoteSettings:
    from ctys.remote.fanout import RemoteSettings

    return given or RemoteSettings.from_env()


# The streamed action: every target's events merged here as they come (ctys.remote.watchstream).
WATCH = "WATCH"


def _asks_json(call: ActionCall) -> bool:
    return any(sub.raw.upper() == "JSON" for sub in call.suboptions)


# --- arguments for one target ------------------------------------------------------------


def target_args(invocation: Invocation, target: Target, *, clear_done: bool = False) -> list[str]:
    """The ctys arguments ``target`` runs: the global options merged with its own, as the
    plugin sets them for the actions whose rows are merged here (JSON rows)."""
    from ctys.remote.options import invocation_options, options_argv, target_invocation

    own = target_invocation(invocation, target)
    values = invocation_options(own)
    if not target.is_local and own.cache_where is CacheWhere.LOCAL:
        from ctys.remote.cachelocal import localized_action

        # -c ON,LOCAL: the caller's cacheDB only: the address resolved here (the target's
        # conf path), the target's own inventory ignored.
        localized = localized_action(own, target)
        if localized is not None:
            values["a"] = localized
        values.pop("c", None)
        values["C"] = CacheControl.OFF.value
    if own.location is Location.CONNECTIONFORWARDING:
        # The client runs here (ctys.remote.tunnel), the server there; on a local target
        # both run here.
        if target.is_local:
            values.pop("L")
        else:
            values["L"] = Location.SERVERONLY.value
    call = own.action
    if call is not None and call.name == WATCH and not _asks_json(call):
        # A streamed action: each target prints JSON lines, merged and formatted here.
        text = values.get("a", call.name)
        values["a"] = f"{text},JSON" if "=" in text else f"{text}=JSON"
    merger = _merger(invocation)
    if call is not None and merger is not None:
        merger.target_options(call, target, values, clear_done=clear_done)
    return options_argv(values)


# --- what the plugin says ----------------------------------------------------------------


def _plugin_of(invocation: Invocation) -> Plugin | None:
    """The one plugin ``-t`` names (the default one when none), ``None`` for several."""
    from ctys.plugins.registry import load_plugin, resolve_types

    types = resolve_types(invocation.plugin_types)
    return load_plugin(types[0]) if len(types) == 1 else None


def _attaches_terminal(invocation: Invocation) -> bool:
    """Whether a plugin the (target's) invocation selects says its action attaches the
    caller's terminal."""
    from ctys.plugins.registry import load_plugin, resolve_types

    call = invocation.action
    if call is None:
        return False
    return any(
        load_plugin(name).attaches_terminal(call, background=bool(invocation.background))
        for name in resolve_types(invocation.plugin_types)
    )


def _merger(invocation: Invocation) -> MergedAction | None:
    call = invocation.action
    plugin = _plugin_of(invocation) if call is not None else None
    return plugin.merged(call.name) if plugin is not None and call is not None else None


def _rows_entry(invocation: Invocation, args: Sequence[str]) -> RowsEntry | None:
    """The plugin's lean entry for a merged action's target ``args`` (``None``: ctys
    itself). A plugin whose ``MergedAction`` has no ``rows_entry`` (an older one) has none."""
    merger = _merger(invocation)
    ask = getattr(merger, "rows_entry", None)
    return ask(args) if ask is not None else None


def _argv_for(
    invocation: Invocation,
    target: Target,
    settings: RemoteSettings,
    *,
    pty: bool = False,
    lean: bool = True,
) -> list[str]:
    """The command ``target`` runs; ``lean``: a merged action's target words go to the
    plugin's rows entry where there is one (``rows_program``), else to ctys."""
    from ctys.remote.ssh import rows_enabled

    clear_done = invocation.cache_control is CacheControl.CLEAR
    args = target_args(invocation, target, clear_done=clear_done)
    entry = _rows_entry(invocation, args) if lean and not pty and rows_enabled() else None
    if target.is_local:
        return [sys.executable, "-m", entry.module if entry is not None else "ctys", *args]
    from ctys.remote.options import target_invocation
    from ctys.remote.ssh import default_control_dir, rows_program, ssh_argv

    program = rows_program(entry.script, entry.module) if entry is not None else None
    own = target_invocation(invocation, target)
    return ssh_argv(
        target,
        args,
        user=own.remote_user,
        pty=(own.pty or 1) if pty else False,
        connect_timeout=settings.connect_timeout,
        control_dir=default_control_dir(),
        forward_agent=own.forward_agent,
        forward_x11=own.location is Location.DISPLAYFORWARDING,
        program=program,
    )


# --- several targets -----------------------------------------------------------------------


def _run_on_many(invocation: Invocation, out: TextIO, err: TextIO, settings: RemoteSettings) -> int:
    call = invocation.action
    if call is None:
        raise UsageError("no action given: use -a ACTION (see ctys -h)")
    from ctys.remote.options import target_invocation
    from ctys.remote.ssh import target_name

    targets = invocation.targets
    merger = _merger(invocation)
    for target in targets:
        own = target_invocation(invocation, target)  # bad target options fail before any run
        if merger is not None and (own.action is None or own.action.name != call.name):
            raise UsageError(
                f"target {target_name(target)} runs another action than {call.name}, "
                "whose rows are merged"
            )
    if invocation.dry_run:
        return _print_dry_run(invocation, out, settings)
    if call.name == WATCH:
        from ctys.remote.watchstream import stream_targets

        argvs = {target_name(t): _argv_for(invocation, t, settings) for t in targets}
        return stream_targets(argvs, out, as_json=_asks_json(call))
    if merger is not None:
        return _merged_many(invocation, call, merger, out, err, settings)
    from ctys.remote.terminal import wants_terminal

    if wants_terminal((target_invocation(invocation, t) for t in targets), _attaches_terminal):
        return _interactive(invocation, err, settings)
    results = _fan_out(invocation, settings, err)
    from ctys.remote.merge import report_streams

    for result in results:
        report_streams(result, out, err, debug=invocation.debug)
    return _worst(results)


def _print_dry_run(invocation: Invocation, out: TextIO, settings: RemoteSettings) -> int:
    """``-n``: the command each target would run, shell-quoted, one line each; nothing
    runs (``out`` escapes what a terminal would act on)."""
    would_run = replace(invocation, dry_run=False)
    _print_commands({t: _argv_for(would_run, t, settings) for t in invocation.targets}, out)
    return 0


def _print_commands(argvs: dict[Target, list[str]], stream: TextIO) -> None:
    import shlex

    from ctys.remote.ssh import target_name

    for target, argv in argvs.items():
        print(f"{target_name(target)}: {shlex.join(argv)}", file=stream)


def _fan_out(invocation: Invocation, settings: RemoteSettings, err: TextIO) -> list[TargetResult]:
    from ctys.remote.fanout import run_on_targets

    argvs = {t: _argv_for(invocation, t, settings) for t in invocation.targets}
    spec = invocation.debug_spec
    if spec is not None and spec.printfinal is not None:
        _print_commands(argvs, err)  # -d ...,PFIN: the final calls, as they run
    # -b ...,seq: one target after another; ,par (and the default): at once, bounded.
    sequential = invocation.parallel is False

    def run(targets: Sequence[Target], argv: dict[Target, list[str]]) -> list[TargetResult]:
        return run_on_targets(
            targets,
            lambda t: argv[t],
            max_parallel=1 if sequential else settings.max_parallel,
            timeout=settings.timeout,
        )

    results = run(invocation.targets, argvs)
    return _without_rows_entry(invocation, settings, argvs, results, run)


def _without_rows_entry(
    invocation: Invocation,
    settings: RemoteSettings,
    argvs: dict[Target, list[str]],
    results: list[TargetResult],
    run: Callable[[Sequence[Target], dict[Target, list[str]]], list[TargetResult]],
) -> list[TargetResult]:
    """The targets that had no rows entry (an older ctys there: the shell's 127) asked
    again, once, with ctys itself; silently, as their answer is the same (a target with
    ``-d`` runs ctys itself from the start: the entry answers no ``-d``)."""
    from ctys.errors import ExitStatus

    missing = [
        t
        for t, r in zip(invocation.targets, results, strict=True)
        if r.returncode == ExitStatus.NOT_FOUND and r.error is not None
    ]
    full = {t: _argv_for(invocation, t, settings, lean=False) for t in missing}
    again = [t for t in missing if full[t] != argvs[t]]
    if not again:
        return results
    answers = dict(zip(again, run(again, full), strict=True))
    return [answers.get(t, r) for t, r in zip(invocation.targets, results, strict=True)]


def _worst(results: Sequence[TargetResult], extra: int = 0) -> int:
    return max([extra, *(r.returncode for r in results)])


def _merged_many(
    invocation: Invocation,
    call: ActionCall,
    merger: MergedAction,
    out: TextIO,
    err: TextIO,
    settings: RemoteSettings,
) -> int:
    """Each target prints JSON rows; the plugin merges those of the targets that answered."""
    from ctys.plugins.answers import TargetRows
    from ctys.plugins.base import RunContext
    from ctys.remote.merge import error_line, json_rows, report_streams
    from ctys.remote.options import target_invocation

    ctx = RunContext(invocation=invocation, out=out, err=err)
    merger.prepare(call, ctx)  # fail before the fan-out
    results = _fan_out(invocation, settings, err)
    answers: list[TargetRows] = []
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
        own = target_invocation(invocation, target).action or call
        answers.append(TargetRows(target, result.target, own, rows))
    status = merger.merge(call, answers, ctx)
    return _worst(results, max(bad, status))


def _interactive(invocation: Invocation, err: TextIO, settings: RemoteSettings) -> int:
    """``-z``: each target in turn on this terminal (``ssh -t``), e.g. to attach a console."""

    import subprocess  # loaded only here: the local commands run none

    from ctys.errors import ExitStatus
    from ctys.remote.fanout import classify
    from ctys.remote.ssh import target_name

    status = 0
    for target in invocation.targets:
        argv = _argv_for(invocation, target, settings, pty=True)
        code = subprocess.run(argv, check=False).returncode
        error = classify(code, "") if code in (ExitStatus.SSH, ExitStatus.NOT_FOUND) else None
        if error is not None:
            print(f"ctys: {target_name(target)}: {error}", file=err)
        status = max(status, code)
    return status


# --- placement ------------------------------------------------------------------------------


def _placement(invocation: Invocation, target: Target) -> Placement | None:
    """How the plugin places the action: only on the default target (no host given) and
    with the inventory."""
    call = invocation.action
    if call is None or target != Target("localhost"):
        return None
    # -c ON,REMOTE: the caller's cacheDB is not asked where to run.
    if invocation.cache_control is CacheControl.OFF or invocation.cache_where is CacheWhere.REMOTE:
        return None
    plugin = _plugin_of(invocation)
    return plugin.placement(call.name) if plugin is not None else None
