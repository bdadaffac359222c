"""Whether a target runs on this terminal (``ssh -t``): asked for with ``-z``, or needed.

A remote console attach needs a terminal: over ``ssh -T`` with captured output, a CONNECT
returns at once and says nothing. So without ``-z`` a target gets one when stdin is a
terminal and its action attaches a console; ``-z nopty`` (0) refuses one always.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from ctys.consoles.kinds import ConsoleKind, parse_console
from ctys.errors import UsageError
from ctys.invocation import Invocation

__all__ = ["attaches_console", "wants_terminal"]

# Consoles attached to the caller's terminal (the others open a viewer or a window).
_TERMINAL_CONSOLES = frozenset({ConsoleKind.CLI, ConsoleKind.CLI0})


def attaches_console(inv: Invocation) -> bool:
    """Whether ``inv``'s action attaches the caller's terminal to a VM console: CREATE with
    a CLI/CLI0 console (the default) that CONNECTs/REUSEs, or boots in the foreground."""
    call = inv.action
    if call is None or call.name != "CREATE":
        return False
    keys = {sub.key for sub in call.suboptions}
    console = ConsoleKind.CLI
    for sub in call.suboptions:
        if sub.key == "CONSOLE" and len(sub.args) == 1:
            try:
                console = parse_console(sub.args[0])
            except UsageError:
                return False  # the target reports the bad console itself
    if console not in _TERMINAL_CONSOLES:
        return False
    return bool(keys & {"CONNECT", "REUSE"}) or console is ConsoleKind.CLI0 or not inv.background


def wants_terminal(invocations: Iterable[Invocation], *, stdin_tty: bool | None = None) -> bool:
    """Whether the targets (each given with its own merged options) run one by one on
    this terminal: when one asks for it (``-z pty`` or ``-z N``, N > 0), or when stdin is a
    terminal and a target without ``-z`` attaches a console."""
    own = list(invocations)
    if any(inv.pty for inv in own):
        return True
    tty = sys.stdin.isatty() if stdin_tty is None else stdin_tty
    return tty and any(inv.pty is None and attaches_console(inv) for inv in own)
