"""Console kinds, geometry and the argv builders of the console launchers."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.consoles.kinds import ConsoleKind, has_display, parse_console
from ctys.consoles.launchers import (
    Geometry,
    check_display,
    connect_command,
    console_argv,
    elisp_string,
    emacs_argv,
    find_vnc_viewer,
    gterm_argv,
    launch_detached,
    parse_geometry,
    terminal_argv,
    vnc_socket_viewer_argv,
    vnc_viewer_argv,
    xterm_argv,
)
from ctys.errors import CtysError, UsageError

DISPLAY = {"DISPLAY": ":0"}


def which_only(*names: str) -> Callable[[str], str | None]:
    """A fake ``shutil.which`` that knows only ``names``, installed in /usr/bin."""

    def which(name: str) -> str | None:
        return f"/usr/bin/{name}" if name in names else None

    return which


# --- kinds -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(ConsoleKind))
def test_parse_console_round_trips_every_kind(kind: ConsoleKind) -> None:
    assert parse_console(kind.value) is kind
    assert parse_console(kind.value.lower()) is kind


def test_parse_console_rejects_unknown_and_lists_valid() -> None:
    with pytest.raises(UsageError) as info:
        parse_console("TELNET")
    message = str(info.value)
    assert "TELNET" in message
    for kind in ConsoleKind:
        assert kind.value in message
    assert info.value.exit_code == 2


def test_serial_socket_consoles() -> None:
    serial = {k for k in ConsoleKind if k.uses_serial_socket}
    assert serial == {
        ConsoleKind.CLI,
        ConsoleKind.XTERM,
        ConsoleKind.GTERM,
        ConsoleKind.EMACS,
        ConsoleKind.EMACSM,
        ConsoleKind.EMACSA,
        ConsoleKind.EMACSAM,
    }


def test_vnc_is_prepared_for_cli_like_consoles_and_vnc_but_not_cli0_or_sdl() -> None:
    prepared = {k for k in ConsoleKind if k.prepares_vnc}
    assert prepared == {k for k in ConsoleKind if k.uses_serial_socket} | {ConsoleKind.VNC}
    assert not ConsoleKind.CLI0.prepares_vnc
    assert not ConsoleKind.SDL.prepares_vnc
    assert not ConsoleKind.NONE.prepares_vnc


def test_needs_display() -> None:
    assert not ConsoleKind.CLI.needs_display
    assert not ConsoleKind.CLI0.needs_display
    for kind in (ConsoleKind.SDL, ConsoleKind.VNC, ConsoleKind.XTERM, ConsoleKind.EMACSAM):
        assert kind.needs_display


def test_has_display() -> None:
    assert has_display({"DISPLAY": ":1"})
    assert has_display({"WAYLAND_DISPLAY": "wayland-0"})
    assert not has_display({})
    assert not has_display({"DISPLAY": ""})


# --- geometry --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("80x25", Geometry(80, 25)),
        ("80x25+10+20", Geometry(80, 25, 10, 20)),
        ("120x40-0+5", Geometry(120, 40, 0, 5)),
        (" 100x30-10-10 ", Geometry(100, 30, -10, -10)),
    ],
)
def test_parse_geometry(text: str, expected: Geometry) -> None:
    assert parse_geometry(text) == expected


@pytest.mark.parametrize("text", ["", "80", "80x", "x25", "80x25+10", "0x25", "80*25", "a x b"])
def test_parse_geometry_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="bad geometry"):
        parse_geometry(text)


@given(
    st.integers(1, 9999),
    st.integers(1, 9999),
    st.one_of(st.none(), st.tuples(st.integers(-9999, 9999), st.integers(-9999, 9999))),
)
def test_geometry_x11_round_trips(w: int, h: int, offset: tuple[int, int] | None) -> None:
    geometry = Geometry(w, h) if offset is None else Geometry(w, h, *offset)
    assert parse_geometry(geometry.x11()) == geometry


# --- argv builders ---------------------------------------------------------------------


def test_connect_command_runs_this_python() -> None:
    assert connect_command("QEMU", "vm1-abc") == [
        sys.executable,
        "-m",
        "ctys",
        "-t",
        "QEMU",
        "-a",
        "CREATE=VMID:vm1-abc,CONNECT",
    ]


def test_xterm_argv() -> None:
    cmd = ["python", "-m", "ctys"]
    assert xterm_argv("my vm", cmd) == ["xterm", "-T", "my vm", "-e", *cmd]
    assert xterm_argv("vm", cmd, Geometry(80, 25, 5, 6)) == [
        "xterm",
        "-T",
        "vm",
        "-geometry",
        "80x25+5+6",
        "-e",
        *cmd,
    ]


def test_gterm_argv() -> None:
    cmd = ["python", "-m", "ctys"]
    assert gterm_argv("vm", cmd, Geometry(100, 30)) == [
        "gnome-terminal",
        "--title=vm",
        "--geometry=100x30",
        "--",
        *cmd,
    ]


def test_elisp_string_escapes() -> None:
    assert elisp_string('a"b\\c') == '"a\\"b\\\\c"'


def test_emacs_argv_term_and_ansi_term() -> None:
    cmd = ["/usr/bin/python3", "-m", "ctys", "-a", 'CREATE=ID:x"y,CONNECT']
    term = emacs_argv(ConsoleKind.EMACS, "vm", cmd, Geometry(80, 25))
    assert term[:3] == ["emacs", "--title=vm", "--geometry=80x25"]
    assert term[3] == "--eval"
    form = term[4]
    assert '(term-exec buf "vm" "/usr/bin/python3" nil (list "-m" "ctys" "-a"' in form
    assert '"CREATE=ID:x\\"y,CONNECT"' in form  # the quote is escaped for Lisp
    assert "term-set-escape-char" not in form
    assert form.count("(") == form.count(")")

    ansi = emacs_argv(ConsoleKind.EMACSA, "vm", cmd)
    assert ansi[:2] == ["emacs", "--title=vm"]
    assert '"*ansi-term vm*"' in ansi[-1]
    assert "(term-set-escape-char ?\\C-x)" in ansi[-1]
    assert ansi[-1].count("(") == ansi[-1].count(")")


def test_emacsam_uses_one_shared_emacs() -> None:
    argv = emacs_argv(ConsoleKind.EMACSAM, "vm", ["p"], Geometry(80, 25, 1, 2))
    assert argv[:3] == ["emacsclient", "--alternate-editor=", "--create-frame"]
    assert argv[3:5] == ["--frame-parameters", "((width . 80) (height . 25) (left . 1) (top . 2))"]
    assert argv[5] == "--eval"


def test_terminal_argv_dispatches_and_refuses_non_terminals() -> None:
    assert (
        terminal_argv(ConsoleKind.XTERM, "vm", "id1", session_type="QEMU")[-1]
        == "CREATE=VMID:id1,CONNECT"
    )
    assert terminal_argv(ConsoleKind.GTERM, "vm", "id1", session_type="QEMU")[0] == "gnome-terminal"
    assert terminal_argv(ConsoleKind.EMACSA, "vm", "id1", session_type="QEMU")[0] == "emacs"
    with pytest.raises(ValueError):
        terminal_argv(ConsoleKind.CLI, "vm", "id1", session_type="QEMU")


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        ("vncviewer", ["vncviewer", "127.0.0.1::5901"]),
        ("xtightvncviewer", ["xtightvncviewer", "127.0.0.1::5901"]),
        ("xvnc4viewer", ["xvnc4viewer", "127.0.0.1::5901"]),
        ("gvncviewer", ["gvncviewer", "127.0.0.1:1"]),
        ("remote-viewer", ["remote-viewer", "--title=vm", "vnc://127.0.0.1:5901"]),
    ],
)
def test_vnc_viewer_argv(viewer: str, expected: list[str]) -> None:
    assert vnc_viewer_argv(viewer, "127.0.0.1", 5901, "vm") == expected


def test_vnc_viewer_geometry() -> None:
    argv = vnc_viewer_argv("vncviewer", "h", 5900, "vm", Geometry(1024, 768))
    assert argv == ["vncviewer", "-geometry", "1024x768", "h::5900"]


def test_find_vnc_viewer_prefers_in_order() -> None:
    assert find_vnc_viewer(which_only("remote-viewer", "gvncviewer")) == "gvncviewer"
    assert find_vnc_viewer(which_only("xvnc4viewer")) == "xvnc4viewer"
    with pytest.raises(CtysError, match="needs a VNC viewer"):
        find_vnc_viewer(which_only())


# --- VNC on a UNIX socket (the private default) ---------------------------------------


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        # TigerVNC opens any server name with a '/' as a UNIX socket.
        ("vncviewer", ["vncviewer", "/run/ctys/vms/a/vnc.sock"]),
        ("xtigervncviewer", ["xtigervncviewer", "/run/ctys/vms/a/vnc.sock"]),
        ("remote-viewer", ["remote-viewer", "--title=vm", "vnc+unix:///run/ctys/vms/a/vnc.sock"]),
    ],
)
def test_vnc_socket_viewer_argv(viewer: str, expected: list[str]) -> None:
    assert vnc_socket_viewer_argv(viewer, "/run/ctys/vms/a/vnc.sock", "vm") == expected


def test_vnc_socket_viewer_geometry_and_refusals() -> None:
    argv = vnc_socket_viewer_argv("vncviewer", "/s/vnc.sock", "vm", Geometry(800, 600))
    assert argv == ["vncviewer", "-geometry", "800x600", "/s/vnc.sock"]
    for tcp_only in ("gvncviewer", "xtightvncviewer", "xvnc4viewer"):
        with pytest.raises(ValueError, match="UNIX socket"):
            vnc_socket_viewer_argv(tcp_only, "/s/vnc.sock", "vm")


def test_find_vnc_viewer_for_a_socket_skips_viewers_that_cannot_open_one() -> None:
    pick = find_vnc_viewer(which_only("gvncviewer", "remote-viewer"), unix_socket=True)
    assert pick == "remote-viewer"
    # Debian's "vncviewer" is an alternative: TightVNC's cannot open a socket, TigerVNC's can.
    tight = {"/usr/bin/vncviewer": "/usr/bin/xtightvncviewer"}
    tiger = {"/usr/bin/vncviewer": "/usr/bin/xtigervncviewer"}
    found = which_only("vncviewer", "remote-viewer")
    assert find_vnc_viewer(found, unix_socket=True, resolve=lambda p: tight.get(p, p)) == (
        "remote-viewer"
    )
    assert find_vnc_viewer(found, unix_socket=True, resolve=lambda p: tiger.get(p, p)) == (
        "vncviewer"
    )
    assert find_vnc_viewer(which_only("vncviewer"), unix_socket=True, resolve=str) == "vncviewer"
    with pytest.raises(CtysError, match=r"UNIX socket.*VNCBIND"):
        find_vnc_viewer(which_only("gvncviewer", "xtightvncviewer"), unix_socket=True)


def test_console_argv_vnc_socket() -> None:
    argv = console_argv(
        ConsoleKind.VNC,
        label="vm",
        vmid="id",
        session_type="QEMU",
        vnc_socket="/r/vnc.sock",
        which=which_only("gvncviewer", "remote-viewer"),
        env=DISPLAY,
    )
    assert argv == ["/usr/bin/remote-viewer", "--title=vm", "vnc+unix:///r/vnc.sock"]


# --- console_argv: program and display checks -----------------------------------------


def test_console_argv_resolves_program_path() -> None:
    argv = console_argv(
        ConsoleKind.XTERM,
        label="vm",
        vmid="id1",
        session_type="QEMU",
        which=which_only("xterm"),
        env=DISPLAY,
    )
    assert argv[0] == "/usr/bin/xterm"
    assert argv[-1] == "CREATE=VMID:id1,CONNECT"


def test_console_argv_missing_program() -> None:
    with pytest.raises(CtysError) as info:
        console_argv(
            ConsoleKind.XTERM,
            label="vm",
            vmid="id1",
            session_type="QEMU",
            which=which_only(),
            env=DISPLAY,
        )
    assert str(info.value) == "CONSOLE:XTERM needs xterm, which is not installed"
    assert info.value.exit_code == 1


def test_console_argv_no_display() -> None:
    with pytest.raises(CtysError) as info:
        console_argv(
            ConsoleKind.GTERM,
            label="vm",
            vmid="id",
            session_type="QEMU",
            which=which_only("gnome-terminal"),
            env={},
        )
    message = str(info.value)
    assert "CONSOLE:GTERM" in message
    assert "$DISPLAY" in message
    assert "CONSOLE:CLI" in message


def test_check_display_ignores_cli() -> None:
    check_display(ConsoleKind.CLI, {})  # must not raise
    check_display(ConsoleKind.VNC, {"WAYLAND_DISPLAY": "wayland-0"})
    with pytest.raises(CtysError, match="CONSOLE:SDL"):
        check_display(ConsoleKind.SDL, {})


def test_console_argv_vnc() -> None:
    argv = console_argv(
        ConsoleKind.VNC,
        label="vm",
        vmid="id",
        session_type="QEMU",
        vnc_port=5905,
        which=which_only("remote-viewer"),
        env=DISPLAY,
    )
    assert argv == ["/usr/bin/remote-viewer", "--title=vm", "vnc://127.0.0.1:5905"]
    with pytest.raises(CtysError, match="no VNC port"):
        console_argv(
            ConsoleKind.VNC,
            label="vm",
            vmid="id",
            session_type="QEMU",
            which=which_only("vncviewer"),
            env=DISPLAY,
        )


# --- launch_detached -------------------------------------------------------------------


def test_launch_detached_runs_in_own_session(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    pid = launch_detached(
        [
            sys.executable,
            "-c",
            f"import os,time; open({str(marker)!r},'w').write(str(os.getsid(0))); time.sleep(30)",
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert int(marker.read_text()) == pid  # session leader of its own session
        assert os.getsid(pid) != os.getsid(0)
    finally:
        os.kill(pid, signal.SIGKILL)


def test_launch_detached_missing_program() -> None:
    with pytest.raises(CtysError, match="cannot start no-such-program-ctys"):
        launch_detached(["/nonexistent/no-such-program-ctys"])
