"""Open a console in its own program: xterm, gnome-terminal, Emacs, or a VNC viewer.

The argv builders are pure; ``console_argv`` resolves the program (``which`` is injectable
for tests) and checks for a display; ``launch_detached`` starts the result in its own
session so it outlives ctys. The terminal consoles run ``ctys ... CONNECT`` inside, which
attaches to the VM's serial console socket.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ctys.consoles.kinds import ConsoleKind, has_display
from ctys.errors import CtysError, UsageError

Which = Callable[[str], str | None]

# Preference order; the first one installed is used.
VNC_VIEWERS = (
    "vncviewer",
    "xtigervncviewer",
    "xtightvncviewer",
    "gvncviewer",
    "remote-viewer",
    "xvnc4viewer",
)
VNC_BASE_PORT = 5900
# Viewers that cannot open a VNC server on a UNIX socket (they know only host:display or
# host::port): gtk-vnc's gvncviewer, TightVNC's and RealVNC 4's viewers. TigerVNC's viewer
# opens any server name containing a '/' as a socket; remote-viewer takes vnc+unix:///path.
_TCP_ONLY_VIEWERS = frozenset({"gvncviewer", "xtightvncviewer", "xvnc4viewer"})

_TERMINAL_PROGRAM = {
    ConsoleKind.XTERM: "xterm",
    ConsoleKind.GTERM: "gnome-terminal",
    ConsoleKind.EMACS: "emacs",
    ConsoleKind.EMACSM: "emacsclient",
    ConsoleKind.EMACSA: "emacs",
    ConsoleKind.EMACSAM: "emacsclient",
}
_GEOMETRY = re.compile(r"^(\d+)x(\d+)(?:([+-]\d+)([+-]\d+))?$")


@dataclass(frozen=True)
class Geometry:
    """``-g WxH[+X+Y]``: size in characters for terminals, pixels for VNC viewers."""

    width: int
    height: int
    x: int | None = None
    y: int | None = None

    def x11(self) -> str:
        """The X11 geometry string ``WxH[+X+Y]``."""
        size = f"{self.width}x{self.height}"
        if self.x is None or self.y is None:
            return size
        return f"{size}{self.x:+d}{self.y:+d}"


def parse_geometry(text: str) -> Geometry:
    """Parse ``WxH[+X+Y]`` (offsets may be negative, X11 style)."""
    match = _GEOMETRY.match(text.strip())
    if not match:
        raise UsageError(f"bad geometry {text!r}; expected WxH or WxH+X+Y, e.g. 80x25+10+10")
    width, height, x, y = match.groups()
    if int(width) == 0 or int(height) == 0:
        raise UsageError(f"bad geometry {text!r}; width and height must be positive")
    if x is None or y is None:
        return Geometry(int(width), int(height))
    return Geometry(int(width), int(height), int(x), int(y))


def connect_command(session_type: str, vmid: str) -> list[str]:
    """The command a terminal console runs: ctys attaching to the running VM's console
    (``session_type``: the plugin that runs it, e.g. the ``-t`` of the CREATE)."""
    return [sys.executable, "-m", "ctys", "-t", session_type, "-a", f"CREATE=VMID:{vmid},CONNECT"]


def xterm_argv(label: str, command: Sequence[str], geometry: Geometry | None = None) -> list[str]:
    """``xterm -T <label> [-geometry ...] -e <command...>`` (size in characters)."""
    argv = ["xterm", "-T", label]
    if geometry is not None:
        argv += ["-geometry", geometry.x11()]
    return [*argv, "-e", *command]


def gterm_argv(label: str, command: Sequence[str], geometry: Geometry | None = None) -> list[str]:
    """``gnome-terminal --title <label> [--geometry=...] -- <command...>``."""
    argv = ["gnome-terminal", f"--title={label}"]
    if geometry is not None:
        argv.append(f"--geometry={geometry.x11()}")
    return [*argv, "--", *command]


def elisp_string(text: str) -> str:
    """``text`` as an Emacs Lisp string literal (backslash and quote escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def emacs_term_form(kind: ConsoleKind, label: str, command: Sequence[str]) -> str:
    """The Lisp form that opens ``command`` in a fresh term buffer named after the VM.

    ``term``/``ansi-term`` take a program without arguments, so the form does what they
    do, with ``term-exec`` passing the arguments: EMACS is ``M-x term`` (buffer
    ``*<label>*``, escape ``C-c``); EMACSA and EMACSAM are ``M-x ansi-term`` (buffer
    ``*ansi-term <label>*``, escape ``C-x``). Buffer names are made unique, so a second
    console of the same VM gets its own buffer.
    """
    program, *args = command
    ansi = kind in (ConsoleKind.EMACSA, ConsoleKind.EMACSAM)
    name = f"ansi-term {label}" if ansi else label
    switches = " ".join(elisp_string(arg) for arg in args)
    escape = " (let (term-escape-char) (term-set-escape-char ?\\C-x))" if ansi else ""
    return (
        f"(progn (require 'term)"
        f" (let ((buf (generate-new-buffer {elisp_string('*' + name + '*')})))"
        f" (with-current-buffer buf (term-mode))"
        f" (term-exec buf {elisp_string(name)} {elisp_string(program)} nil (list {switches}))"
        f" (set-buffer buf) (term-mode) (term-char-mode){escape} (switch-to-buffer buf)))"
    )


def emacs_argv(
    kind: ConsoleKind, label: str, command: Sequence[str], geometry: Geometry | None = None
) -> list[str]:
    """EMACS/EMACSA start an Emacs of their own; EMACSM/EMACSAM ("multi") open a new frame
    of one shared Emacs via ``emacsclient`` (starting the server on first use)."""
    form = emacs_term_form(kind, label, command)
    if kind in (ConsoleKind.EMACSM, ConsoleKind.EMACSAM):
        argv = ["emacsclient", "--alternate-editor=", "--create-frame"]
        if geometry is not None:
            params = f"(width . {geometry.width}) (height . {geometry.height})"
            if geometry.x is not None and geometry.y is not None:
                params += f" (left . {geometry.x}) (top . {geometry.y})"
            argv += ["--frame-parameters", f"({params})"]
        return [*argv, "--eval", form]
    if kind not in (ConsoleKind.EMACS, ConsoleKind.EMACSA):
        raise ValueError(f"not an Emacs console: {kind}")
    argv = ["emacs", f"--title={label}"]
    if geometry is not None:
        argv.append(f"--geometry={geometry.x11()}")
    return [*argv, "--eval", form]


def terminal_argv(
    kind: ConsoleKind,
    label: str,
    vmid: str,
    geometry: Geometry | None = None,
    *,
    session_type: str,
) -> list[str]:
    """The argv that opens the VM's serial console in the terminal program of ``kind``."""
    command = connect_command(session_type, vmid)
    if kind is ConsoleKind.XTERM:
        return xterm_argv(label, command, geometry)
    if kind is ConsoleKind.GTERM:
        return gterm_argv(label, command, geometry)
    if kind in (ConsoleKind.EMACS, ConsoleKind.EMACSM, ConsoleKind.EMACSA, ConsoleKind.EMACSAM):
        return emacs_argv(kind, label, command, geometry)
    raise ValueError(f"CONSOLE:{kind.value} is not opened in a terminal program")


def vnc_viewer_argv(
    viewer: str, host: str, port: int, label: str, geometry: Geometry | None = None
) -> list[str]:
    """The argv of ``viewer`` (a name from ``VNC_VIEWERS``) showing ``host:port``."""
    if viewer in ("vncviewer", "xtightvncviewer", "xvnc4viewer"):
        argv = [viewer]
        if geometry is not None:
            argv += ["-geometry", geometry.x11()]
        return [*argv, f"{host}::{port}"]  # "::" means a port, ":" a display number
    if viewer == "gvncviewer":
        # gvncviewer only knows display numbers.
        return [viewer, f"{host}:{port - VNC_BASE_PORT}"]
    if viewer == "remote-viewer":
        return [viewer, f"--title={label}", f"vnc://{host}:{port}"]
    raise ValueError(f"unknown VNC viewer {viewer!r}")


def vnc_socket_viewer_argv(
    viewer: str, path: str, label: str, geometry: Geometry | None = None
) -> list[str]:
    """The argv of ``viewer`` showing the VNC server on the UNIX socket ``path``;
    ``ValueError`` for a viewer that cannot open a socket."""
    if viewer in ("vncviewer", "xtigervncviewer"):
        argv = [viewer]
        if geometry is not None:
            argv += ["-geometry", geometry.x11()]
        return [*argv, path]  # TigerVNC: a name with a '/' is a UNIX socket
    if viewer == "remote-viewer":
        return [viewer, f"--title={label}", f"vnc+unix://{path}"]
    raise ValueError(f"VNC viewer {viewer!r} cannot open a UNIX socket")


def find_vnc_viewer(
    which: Which = shutil.which,
    *,
    unix_socket: bool = False,
    resolve: Callable[[str], str] = os.path.realpath,
) -> str:
    """The name of the first installed VNC viewer (with ``unix_socket``: the first that
    opens a UNIX socket); ``CtysError`` when there is none."""
    for viewer in VNC_VIEWERS:
        path = which(viewer)
        if not path:
            continue
        if not unix_socket:
            return viewer
        # "vncviewer" is often a link to one of the others (Debian's alternatives).
        if viewer not in _TCP_ONLY_VIEWERS and Path(resolve(path)).name not in _TCP_ONLY_VIEWERS:
            return viewer
    if unix_socket:
        raise CtysError(
            "CONSOLE:VNC on the VM's private UNIX socket needs TigerVNC's vncviewer or"
            " remote-viewer (gvncviewer, xtightvncviewer and xvnc4viewer cannot open a socket);"
            " ask for a TCP port with VNCBIND:127.0.0.1 to use those"
        )
    raise CtysError(f"CONSOLE:VNC needs a VNC viewer ({', '.join(VNC_VIEWERS)}), none is installed")


def check_display(kind: ConsoleKind, env: Mapping[str, str] | None = None) -> None:
    """Raise ``CtysError`` when ``kind`` needs a display and there is none."""
    if kind.needs_display and not has_display(env):
        raise CtysError(
            f"CONSOLE:{kind.value} needs a display, but neither $DISPLAY nor $WAYLAND_DISPLAY"
            " is set; use CONSOLE:CLI and attach from this terminal"
        )


def console_argv(
    kind: ConsoleKind,
    *,
    label: str,
    vmid: str,
    session_type: str,
    vnc_host: str = "127.0.0.1",
    vnc_port: int | None = None,
    vnc_socket: str | None = None,
    geometry: Geometry | None = None,
    which: Which = shutil.which,
    env: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The argv (program resolved to its path) that opens the ``kind`` console window.

    Only for XTERM, GTERM, EMACS* and VNC (on ``vnc_socket``, else ``vnc_host:vnc_port``);
    checks the display and that the program is installed, raising a ``CtysError`` naming
    the console otherwise. ``extra`` (CREATE's CALLOPTS and XOPTS) goes right after the
    program's name, before the words that name the VM or the command to run.
    """
    check_display(kind, env)
    if kind is ConsoleKind.VNC and vnc_socket is not None:
        viewer = find_vnc_viewer(which, unix_socket=True)
        argv = vnc_socket_viewer_argv(viewer, vnc_socket, label, geometry)
    elif kind is ConsoleKind.VNC:
        if vnc_port is None:
            raise CtysError(f"CONSOLE:VNC for {label}: the VM has no VNC port")
        argv = vnc_viewer_argv(find_vnc_viewer(which), vnc_host, vnc_port, label, geometry)
    else:
        argv = terminal_argv(kind, label, vmid, geometry, session_type=session_type)
    path = which(argv[0])
    if path is None:
        raise CtysError(f"CONSOLE:{kind.value} needs {argv[0]}, which is not installed")
    return [path, *extra, *argv[1:]]


# Popen handles of launched programs, kept so they are reaped without ResourceWarnings.
_launched: list[subprocess.Popen[bytes]] = []


def launch_detached(argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Start ``argv`` in a session of its own with stdio on /dev/null; return its pid.

    The program outlives ctys and is not hit by the terminal's Ctrl-C or hangup.
    """
    _launched[:] = [proc for proc in _launched if proc.poll() is None]
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
            env=None if env is None else dict(env),
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CtysError(f"cannot start {Path(argv[0]).name}: {reason}") from exc
    _launched.append(proc)
    return proc.pid
