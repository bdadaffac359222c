"""The console types of ``CREATE=...,CONSOLE:<kind>`` and what each one implies.

The properties answer the questions the CREATE action and the argv builder ask:
does the VM get a serial console socket, does it get a VNC port for later attachment,
and does opening the console need a graphical display.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import Enum

from ctys.errors import UsageError


class ConsoleKind(Enum):
    """One console type of the manual (SPEC §4 CONSOLE)."""

    CLI = "CLI"  # serial console on a UNIX socket, detachable
    CLI0 = "CLI0"  # console bound to the calling terminal; the VM ends with it
    SDL = "SDL"  # the hypervisor's own window
    VNC = "VNC"  # VNC server on a free port plus a viewer
    XTERM = "XTERM"  # the CLI console inside an xterm
    GTERM = "GTERM"  # the CLI console inside a gnome-terminal
    EMACS = "EMACS"  # the CLI console inside an Emacs term buffer
    EMACSM = "EMACSM"  # ... inside a term buffer of one shared Emacs (multi)
    EMACSA = "EMACSA"  # ... inside an Emacs ansi-term buffer
    EMACSAM = "EMACSAM"  # ... inside an ansi-term buffer of one shared Emacs (multi)
    NONE = "NONE"  # headless: no display, no VNC, no console attached (the serial log stays)

    @property
    def uses_serial_socket(self) -> bool:
        """True when the VM's serial console is served on ``console.sock`` (detachable)."""
        return self in _SERIAL_SOCKET

    @property
    def prepares_vnc(self) -> bool:
        """True when the VM gets a VNC port: the manual prepares one for every CLI-like
        console (for later attachment) and, of course, for VNC itself."""
        return self in _PREPARES_VNC

    @property
    def needs_display(self) -> bool:
        """True when opening this console needs ``$DISPLAY`` or ``$WAYLAND_DISPLAY``."""
        return self in _NEEDS_DISPLAY

    @property
    def opens_terminal_program(self) -> bool:
        """True for the consoles that run ``ctys ... CONNECT`` inside a terminal program."""
        return self in _TERMINAL_PROGRAM


_TERMINAL_PROGRAM = frozenset(
    {
        ConsoleKind.XTERM,
        ConsoleKind.GTERM,
        ConsoleKind.EMACS,
        ConsoleKind.EMACSM,
        ConsoleKind.EMACSA,
        ConsoleKind.EMACSAM,
    }
)
_SERIAL_SOCKET = _TERMINAL_PROGRAM | {ConsoleKind.CLI}
# The manual's list for the implicit VNC port: CLI, XTERM, GTERM, EMACS*; not CLI0, SDL
# or NONE (headless: nothing to attach to but the serial console).
_PREPARES_VNC = _SERIAL_SOCKET | {ConsoleKind.VNC}
_NEEDS_DISPLAY = _TERMINAL_PROGRAM | {ConsoleKind.SDL, ConsoleKind.VNC}


#: The console of a CREATE that names none, and of a conf without ``DEFAULTCONSOLE``
#: (the original's default).
DEFAULT_CONSOLE = ConsoleKind.VNC


def parse_console(name: str) -> ConsoleKind:
    """Parse the value of ``CONSOLE:<name>`` (case-insensitive) into a ``ConsoleKind``."""
    try:
        return ConsoleKind(name.strip().upper())
    except ValueError:
        valid = "|".join(kind.value for kind in ConsoleKind)
        raise UsageError(f"unknown console {name!r}; valid: CONSOLE:{valid}") from None


def parse_console_port(text: str) -> tuple[ConsoleKind, int | None]:
    """``CONSOLE:<kind>`` or the original's ``CONSOLE:VNC:<port>`` (a TCP port, 5900 and
    up): the kind, and the port when one is given."""
    name, sep, port = text.partition(":")
    kind = parse_console(name)
    if not sep:
        return kind, None
    if kind is not ConsoleKind.VNC:
        raise UsageError(f"CONSOLE:{text}: only VNC takes a port (CONSOLE:VNC:<port>)")
    if not port.isdigit() or not 5900 <= int(port) <= 65535:
        raise UsageError(f"CONSOLE:{text}: the VNC port must be a number from 5900 to 65535")
    return kind, int(port)


def has_display(env: Mapping[str, str] | None = None) -> bool:
    """True when ``$DISPLAY`` or ``$WAYLAND_DISPLAY`` is set and not empty."""
    environ = os.environ if env is None else env
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))
