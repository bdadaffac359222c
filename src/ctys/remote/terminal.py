"""Whether a target runs on this terminal (``ssh -t``): asked for with ``-z``, or needed.

A remote console attach needs a terminal: over ``ssh -T`` with captured output, a console
attach returns at once and says nothing. So without ``-z`` a target gets one when stdin is
a terminal and its action attaches a console (the plugin says which do:
``Plugin.attaches_terminal``); ``-z nopty`` (0) refuses one always.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from ctys.invocation import Invocation

__all__ = ["wants_terminal"]


def wants_terminal(
    invocations: Iterable[Invocation],
    attaches_console: Callable[[Invocation], bool],
    *,
    stdin_tty: bool | None = None,
) -> bool:
    """Whether the targets (each given with its own merged options) run one by one on
    this terminal: when one asks for it (``-z pty`` or ``-z N``, N > 0), or when stdin is a
    terminal and a target without ``-z`` attaches a console (``attaches_console``: what
    its plugin says)."""
    own = list(invocations)
    if any(inv.pty for inv in own):
        return True
    tty = sys.stdin.isatty() if stdin_tty is None else stdin_tty
    return tty and any(inv.pty is None and attaches_console(inv) for inv in own)
