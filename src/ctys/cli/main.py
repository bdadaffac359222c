"""``ctys`` entry point: scan argv, answer -h/-H/-V, dispatch the action to its plugin
(here, or on the targets: ``ctys.cli.dispatch``).

Errors become exit codes in exactly one place (``main``). Only cheap modules are imported at
module level: plugins (and whatever they import, e.g. rich) load when an action needs them.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TextIO

from ctys.argscan import GroupLookup, scan_argv
from ctys.errors import CtysError, UsageError, exit_status
from ctys.invocation import ActionCall, Invocation, Location, Target
from ctys.runguard import run_guarded
from ctys.safestream import safe_stream, write_text

if TYPE_CHECKING:
    from ctys.plugins.base import Plugin, RunContext


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ctys command line (``sys.argv[1:]`` when ``argv`` is None); return exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = [0]

    def body() -> int:
        # Every line any action prints goes through these (over the guarded streams that
        # run_guarded installs): data cannot drive the terminal.
        out, err = safe_stream(sys.stdout), safe_stream(sys.stderr)
        invocation = scan_argv(expand_macros(args, err), groups=_group_lookup())
        debug[0] = invocation.debug
        return run_invocation(invocation, out, err)

    return run_guarded("ctys", body, lambda: debug[0])


def expand_macros(args: Sequence[str], err: TextIO) -> list[str]:
    """``args`` with their ``MACRO:`` references replaced (``ctys.macros``); the lines of
    ``%ECHO`` macros go to ``err``. Nothing is read when no word holds a macro."""
    # ctys.macros (its dataclasses and patterns) only when a word holds a macro
    # (ctys.macros.has_macro's test, inlined): most command lines have none.
    if not any("macro:" in word.lower() for word in args):
        return list(args)
    from ctys.macros import MacroSource, expand_argv, macro_path

    expansion = expand_argv(args, MacroSource(macro_path()))
    for line in expansion.echoes:
        print(line, file=err)
    return list(expansion.words)


def _group_lookup() -> GroupLookup:
    """Host groups of ``CTYS_GROUPS_PATH`` for the targets of the command line. The groups
    package is imported at the first target word (a call without targets, ``-h`` or ``-V``,
    does not pay for it)."""
    resolver: list[GroupLookup] = []

    def lookup(name: str) -> Sequence[Target] | None:
        if not resolver:
            from ctys.groups import GroupResolver, groups_path

            resolver.append(GroupResolver(groups_path(), check=True))
        return resolver[0](name)

    return lookup


def run_invocation(invocation: Invocation, out: TextIO, err: TextIO) -> int:
    """Answer help/version or run the action on every selected plugin; raise ``CtysError``."""
    for note in invocation.notes:
        print(f"ctys: {note}", file=err)
    if invocation.message is not None:
        print(invocation.message, file=out)  # -M: before the output
    if invocation.version:
        from ctys import __version__

        # -V -X: the version alone without a newline, as the original's terse form.
        out.write(__version__ if invocation.terse else f"ctys {__version__}\n")
        return 0
    if invocation.help_level:
        write_text(out, _help_text(invocation))
        return 0
    action = invocation.action
    if action is None:
        raise UsageError("no action given: use -a ACTION (see ctys -h)")

    from ctys.cli.dispatch import dispatch
    from ctys.plugins.registry import load_plugin, resolve_types

    # Check the action against the plugins here, so a typo fails before any host is asked.
    for name in resolve_types(invocation.plugin_types):
        plugin = load_plugin(name)
        _require_action(plugin.name, plugin.actions(), action.name)
    return dispatch(invocation, out, err, run_here)


def run_here(invocation: Invocation, out: TextIO, err: TextIO) -> int:
    """Run the action in this process, on this host, with every selected plugin."""
    from ctys.plugins.base import RunContext
    from ctys.plugins.registry import load_plugin, resolve_types

    action = invocation.action
    if action is None:
        raise UsageError("no action given: use -a ACTION (see ctys -h)")
    if invocation.location is Location.SERVERONLY:
        _headless()
    elif invocation.display is not None:
        import os

        os.environ["DISPLAY"] = invocation.display  # -D: viewers open on that display
    if invocation.geometry_screen:
        invocation = _on_screen(invocation, err)
    types = resolve_types(invocation.plugin_types)
    invocation = replace(invocation, plugin_types=types)
    context = RunContext(invocation=invocation, out=out, err=err)
    status = 0
    for name in types:
        plugin = load_plugin(name)
        _require_action(plugin.name, plugin.actions(), action.name)
        status = max(status, _run_plugin(plugin, action, context))
    return status


def _run_plugin(plugin: Plugin, action: ActionCall, context: RunContext) -> int:
    """``plugin.run``; with ``-A`` an address several VMs match runs the action once per
    VM (each named by its own address), the worst status wins."""
    import contextlib

    invocation = context.invocation
    only: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if invocation.cache_only:  # address.resolve (a heavy import) only where it is asked
        from ctys.address.resolve import inventory_only

        only = inventory_only(True)
    with only:
        try:
            return plugin.run(action, context)
        except CtysError as exc:
            # address.model (its dataclasses) only once an action failed: it raised it.
            from ctys.address.model import AmbiguousAddress, with_address

            if not (isinstance(exc, AmbiguousAddress) and invocation.allow_ambiguous):
                raise
            if not exc.matches:
                raise
            matches = exc.matches
        status = 0
        for match in matches:
            call = with_address(action, match)
            each = replace(context, invocation=replace(invocation, action=call))
            try:
                status = max(status, plugin.run(call, each))
            except CtysError as error:  # one VM's failure does not stop the others
                print(f"ctys: {match}: {error}", file=context.err)
                status = max(status, exit_status(error))
        return status


def _on_screen(invocation: Invocation, err: TextIO) -> Invocation:
    """``-g WxH:<screen>...``: the window placed on that screen of this host's xorg.conf
    (evaluated where the viewer runs, as the original), else one line and WxH as given."""
    from ctys.consoles.xlayout import screen_geometry

    geometry, screen = invocation.geometry, invocation.geometry_screen
    placed = screen_geometry(geometry, screen) if geometry else None
    if placed is None:
        extra = ":".join(screen)
        print(
            f"ctys: -g {geometry}:{extra}: screen '{extra}' not found in an xorg.conf"
            f" ServerLayout with absolute positions; the window is {geometry}",
            file=err,
        )
        return replace(invocation, geometry_screen=())
    return replace(invocation, geometry=placed, geometry_screen=())


def _headless() -> None:
    """``-L SERVERONLY``: the server alone, no client here; without a display no plugin
    opens a viewer (a console that needs one fails with its own message)."""
    import os

    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        os.environ.pop(name, None)


def _help_text(invocation: Invocation) -> str:
    from ctys.cli.helptext import general_help

    long = invocation.help_level >= 2
    if not invocation.plugin_types and invocation.action is None:
        from ctys.plugins.registry import default_plugin, known_plugins

        plugins = known_plugins() if long else ()
        try:
            default = default_plugin()
        except UsageError:
            default = "TYPE"  # several plugins and none built in: -t is needed, help still shows
        return general_help(long, plugins, default=default)

    from ctys.plugins.registry import load_plugin, resolve_types

    texts: list[str] = []
    for name in resolve_types(invocation.plugin_types):
        plugin = load_plugin(name)
        action = invocation.action.name if invocation.action else None
        if action is not None:
            _require_action(plugin.name, plugin.actions(), action)
        texts.append(plugin.help(action).rstrip("\n") + "\n")
    return "\n".join(texts)


def _require_action(plugin: str, actions: Mapping[str, str], action: str) -> None:
    if action not in actions:
        known = ", ".join(sorted(actions))
        raise UsageError(f"unknown action '{action}' for {plugin} (known: {known})")
