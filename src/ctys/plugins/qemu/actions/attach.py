"""Which QEMU calls attach the caller's terminal to a VM console (a remote target then
runs on this terminal, ``ssh -t``): CREATE with a CLI/CLI0 console that CONNECTs/REUSEs,
or boots in the foreground, and a CONNECT/REUSE/RECONNECT naming no console (it attaches
the serial console of a VM not started with CONSOLE:VNC). A boot naming no console gets
VNC (or the conf's DEFAULTCONSOLE, which only the target reads)."""

from __future__ import annotations

from ctys.consoles.kinds import DEFAULT_CONSOLE, ConsoleKind, parse_console_port
from ctys.errors import UsageError
from ctys.invocation import ActionCall

# Consoles attached to the caller's terminal (the others open a viewer or a window).
_TERMINAL_CONSOLES = frozenset({ConsoleKind.CLI, ConsoleKind.CLI0})


def attaches_console(call: ActionCall, *, background: bool) -> bool:
    """Whether ``call`` attaches the caller's terminal to a VM console (``background``:
    ``-b 1`` was given)."""
    if call.name != "CREATE":
        return False
    keys = {sub.key for sub in call.suboptions}
    if "RESUME" in keys:
        return False  # RESUME lets a paused VM run on; it attaches nothing
    attaching = bool(keys & {"CONNECT", "REUSE", "RECONNECT"})
    console = ConsoleKind.CLI if attaching else DEFAULT_CONSOLE
    for sub in call.suboptions:
        if sub.key == "CONSOLE" and len(sub.args) == 1:
            try:
                console, _port = parse_console_port(sub.args[0])
            except UsageError:
                return False  # the target reports the bad console itself
    if console not in _TERMINAL_CONSOLES:
        return False
    return attaching or console is ConsoleKind.CLI0 or not background
