"""What the original's generic options do to the fan-out, the ssh calls and the address
resolution (issue 13, point 5): ``-n``, ``-b ...,seq|par``, ``-Y``, ``-z PTY,PTY``,
``-L DF|SO|CF``, ``-c ON,LOCAL|REMOTE|ONLY``, ``-A``, ``-g WxH:<screen>``; the pure parts
of the ``-L CF`` tunnel."""

from __future__ import annotations

import itertools
import os
import shlex
import time
from pathlib import Path

import pytest

from ctys.address.model import (
    AddressKind,
    AmbiguousAddress,
    MachineAddress,
    MachineSelector,
    with_address,
)
from ctys.address.resolve import inventory_only
from ctys.argscan import parse_action, scan_argv
from ctys.cli.dispatch import target_args
from ctys.cli.main import _run_plugin, main
from ctys.consoles.xlayout import screen_geometry, screen_offset
from ctys.errors import AddressError, CtysError, UsageError
from ctys.invocation import ActionCall, Invocation, Target
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.rowsentry import ROWS_MODULE
from ctys.plugins.qemu.confs.reader import resolve_vm
from ctys.remote.tunnel import VncEndpoint, forward_spec, parse_vnc_endpoint, tunnel_argv

CONF = "#@#MAGICID-QEMU\n#@#LABEL = {label}\n#@#UUID = {uuid}\nKERNEL=vmlinuz\n"


def _fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, sleep: float = 0) -> Path:
    """An ``ssh`` on PATH that writes its argv (``|``-joined, between its start and end
    times) to a file of its own in the returned folder, after ``sleep`` seconds."""
    log = tmp_path / "ssh.log"
    log.mkdir()
    fake = tmp_path / "ssh"
    fake.write_text(
        "#!/bin/sh\n"
        f"start=$(date +%s.%N); sleep {sleep}; end=$(date +%s.%N)\n"
        f'printf "%s|" "$start" "$@" "$end" > {log}/$$\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CTYS_RUNTIME_DIR", str(tmp_path / "rt"))
    monkeypatch.delenv("CTYS_REMOTE_CTYS", raising=False)
    return log


def _calls(log: Path) -> list[list[str]]:
    return [f.read_text().split("|")[:-1] for f in sorted(log.iterdir())]


# --- -n ------------------------------------------------------------------------------------


def test_dry_run_prints_each_ssh_line_quoted_and_runs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _fake_ssh(tmp_path, monkeypatch)
    label = "my vm;rm -rf ~\x1b[31m"
    assert main(["-a", f"CREATE=l:{label}", "-n", "h1", "root@h2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert _calls(log) == []  # not one ssh ran
    assert [line.split(": ", 1)[0] for line in out] == ["h1", "root@h2"]
    argv = shlex.split(out[0].split(": ", 1)[1])
    assert argv[0] == "ssh" and argv[-2:-1] == ["h1"]
    # The remote command is one quoted word that gives back the label exactly, its
    # terminal escape shown as text, not sent to the terminal ...
    remote = shlex.split(argv[-1])
    assert remote == ["ctys", "-a", "CREATE=l:my vm;rm -rf ~\\x1b[31m"]
    assert "\x1b" not in "".join(out)
    # ... and it is the line that would run: without -n.
    assert "-l" in shlex.split(out[1].split(": ", 1)[1])


def test_dry_run_of_several_local_targets_prints_their_ctys_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["-a", "LIST", "-n", "localhost", "127.0.0.1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # A merged LIST's rows come from the plugin's lean entry, of this interpreter.
    lean = f" -m {ROWS_MODULE} -a LIST=JSON -o ALL"
    assert len(lines) == 2 and all(line.endswith(lean) for line in lines)
    assert main(["-a", "CANCEL=ALL", "-n", "localhost", "127.0.0.1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(" -m ctys -a CANCEL=ALL" in line for line in lines)


# --- -b ...,seq|par ------------------------------------------------------------------------


def _spans(log: Path) -> list[tuple[float, float]]:
    return sorted((float(c[0]), float(c[-1])) for c in _calls(log))


def test_b_seq_runs_targets_one_after_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _fake_ssh(tmp_path, monkeypatch, sleep=0.4)
    assert main(["-a", "CANCEL=l:x", "-b", "1,seq", "h1", "h2", "h3"]) == 0
    spans = _spans(log)
    assert len(spans) == 3
    assert all(later[0] >= earlier[1] - 0.05 for earlier, later in itertools.pairwise(spans))


def test_b_par_and_the_default_run_targets_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _fake_ssh(tmp_path, monkeypatch, sleep=0.6)
    start = time.monotonic()
    assert main(["-a", "CANCEL=l:x", "-b", "async,par", "h1", "h2", "h3"]) == 0
    assert time.monotonic() - start < 1.5
    spans = _spans(log)
    assert max(s for s, _ in spans) < min(e for _, e in spans)  # all overlapped


# --- ssh options: -Y, -z PTY,PTY, -L DF --------------------------------------------------------


def test_forward_agent_pty_pty_and_display_forwarding_reach_ssh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _fake_ssh(tmp_path, monkeypatch)
    main(["-a", "CANCEL=l:x", "-Y", "-z", "PTY,PTY", "-L", "DF", "h1"])
    [call] = _calls(log)
    words = call[1:-1]
    host = words.index("--")
    assert words[:host].count("-t") == 2 and "-T" not in words[:host]
    assert "-A" in words[:host] and "-X" in words[:host]
    remote = shlex.split(words[host + 2])
    assert "-Y" not in remote and "-z" not in remote  # the ssh layer's, not the remote's
    assert remote[remote.index("-L") + 1] == "DISPLAYFORWARDING"


# --- what a target is sent -----------------------------------------------------------------------


def test_c_local_makes_a_remote_target_ignore_its_inventory() -> None:
    inv = scan_argv(["-a", "CREATE=l:x", "-c", "local", "h1", "localhost"])
    remote, local = (target_args(inv, t) for t in inv.targets)
    assert remote[remote.index("-C") + 1] == "off" and "-c" not in remote
    assert local[local.index("-c") + 1] == "ON,LOCAL"


def test_c_remote_only_is_passed_to_the_target() -> None:
    inv = scan_argv(["-a", "CREATE=l:x", "-c", "ON,REMOTE,ONLY", "h1"])
    args = target_args(inv, inv.targets[0])
    assert args[args.index("-c") + 1] == "ON,REMOTE,ONLY"


def test_cf_makes_the_remote_target_the_server_alone() -> None:
    inv = scan_argv(["-a", "CREATE=l:x,CONSOLE:VNC", "-L", "CF", "h1", "localhost"])
    remote, local = (target_args(inv, t) for t in inv.targets)
    assert remote[remote.index("-L") + 1] == "SERVERONLY"
    assert "-L" not in local  # client and server both here


def test_target_flags_and_debug_bits_are_sent() -> None:
    # INFO: its lines are not merged here (LIST's merge asks the targets for JSON rows and
    # formats them here, -X included).
    inv = scan_argv(["-a", "INFO", "h1(-X -n -A -d 2,w:0,s:16,p)"])
    args = target_args(inv, inv.targets[0])
    assert {"-X", "-n"} <= set(args)
    assert args[args.index("-A") + 1] == "1"
    assert scan_argv(args).debug_spec == scan_argv(["-d", "2,w:0,s:16,p"]).debug_spec


# --- -c ON,ONLY: the inventory alone -----------------------------------------------------------


@pytest.fixture
def two_vms(ctys_env: dict[str, str]) -> Path:
    root = Path(ctys_env["CTYS_VMPATH"])
    for label, uuid in (("alpha", "aaaaaaaa-0000-4000-8000-000000000001"),
                        ("beta", "bbbbbbbb-0000-4000-8000-000000000002")):  # fmt: skip
        folder = root / label
        folder.mkdir(parents=True)
        (folder / f"{label}.conf").write_text(CONF.format(label=label, uuid=uuid))
    return root


def _label(value: str) -> MachineSelector:
    return MachineSelector((MachineAddress(AddressKind.LABEL, value),))


def test_only_refuses_without_an_inventory_and_never_scans(
    two_vms: Path, ctys_env: dict[str, str]
) -> None:
    inventory = Path(ctys_env["CTYS_INVENTORY"])
    assert resolve_vm(_label("alpha"), inventory).label == "alpha"  # a scan finds it
    with inventory_only(True), pytest.raises(AddressError, match="no inventory at"):
        resolve_vm(_label("alpha"), inventory)
    with inventory_only(True), pytest.raises(AddressError, match="BASEPATH asks for a scan"):
        resolve_vm(MachineSelector(_label("alpha").terms, (two_vms,)), inventory)


def test_only_answers_from_the_inventory_and_misses_what_it_lacks(
    two_vms: Path, ctys_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-t", "QEMU", "-a", "ENUMERATE"]) == 0
    capsys.readouterr()
    inventory = Path(ctys_env["CTYS_INVENTORY"])
    folder = two_vms / "gamma"
    folder.mkdir()
    (folder / "gamma.conf").write_text(CONF.format(label="gamma", uuid="c" * 8 + "-0000-4000"
                                                   "-8000-000000000003"))  # fmt: skip
    with inventory_only(True):
        assert resolve_vm(_label("beta"), inventory).label == "beta"
        with pytest.raises(AddressError, match=r"not in the inventory .*-c ON,ONLY"):
            resolve_vm(_label("gamma"), inventory)
    assert resolve_vm(_label("gamma"), inventory).label == "gamma"  # the block is over
    # The same through the command line: one line, no traceback, nothing started.
    assert main(["-t", "QEMU", "-a", "CREATE=l:gamma", "-c", "only", "-b", "1"]) != 0
    err = capsys.readouterr().err
    assert "-c ON,ONLY: the cacheDB alone, no scan" in err and "Traceback" not in err


def test_c_only_with_c_off_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="uses the inventory alone, but -C off"):
        scan_argv(["-a", "LIST", "-c", "only", "-C", "off"])


# --- -A -------------------------------------------------------------------------------------------


def test_an_ambiguous_scan_names_each_match(two_vms: Path) -> None:
    (two_vms / "beta" / "beta.conf").write_text(
        CONF.format(label="alpha", uuid="bbbbbbbb-0000-4000-8000-000000000002")
    )
    with pytest.raises(AmbiguousAddress) as caught:
        resolve_vm(_label("alpha"))
    assert sorted(caught.value.matches) == sorted(
        f"P:{two_vms / d / f'{d}.conf'}" for d in ("alpha", "beta")
    )
    assert "-A acts on all of them" in str(caught.value)


def test_with_address_replaces_the_address_and_keeps_the_rest() -> None:
    call = parse_action("CREATE=l:x,BASEPATH:/vms,REUSE,UUID:u1,CONSOLE:VNC")
    assert with_address(call, "P:/a,b%c/x.conf") == parse_action(
        r"CREATE=P:/a\,b\%c/x.conf,REUSE,CONSOLE:VNC"
    )


class _Recorder:
    """A plugin whose first run finds the address ambiguous (or whatever ``first`` says)."""

    name = "REC"

    def __init__(self, first: Exception, fail: str = "") -> None:
        self.first: Exception | None = first
        self.fail = fail
        self.calls: list[ActionCall] = []

    def run(self, action: ActionCall, ctx: RunContext) -> int:
        self.calls.append(action)
        assert ctx.invocation.action == action
        if self.first is not None:
            first, self.first = self.first, None
            raise first
        if self.fail and self.fail in action.suboptions[0].raw:
            raise CtysError("that one failed")
        return 0


def _ctx(argv: list[str], capsys: pytest.CaptureFixture[str]) -> RunContext:
    import sys

    inv = scan_argv(argv)
    return RunContext(invocation=inv, out=sys.stdout, err=sys.stderr)


def test_a_runs_the_action_once_per_match(capsys: pytest.CaptureFixture[str]) -> None:
    plugin = _Recorder(AmbiguousAddress("l:x is ambiguous", ("P:/a.conf", "P:/b.conf")))
    ctx = _ctx(["-A", "-a", "CANCEL=l:x,FORCE"], capsys)
    assert _run_plugin(plugin, ctx.invocation.action, ctx) == 0  # type: ignore[arg-type]
    assert [c.suboptions[0].raw for c in plugin.calls] == ["l:x", "P:/a.conf", "P:/b.conf"]
    assert all(c.suboptions[1].key == "FORCE" for c in plugin.calls[1:])


def test_a_one_failing_match_does_not_stop_the_others(capsys: pytest.CaptureFixture[str]) -> None:
    plugin = _Recorder(AmbiguousAddress("amb", ("P:/a.conf", "P:/b.conf")), fail="/a.conf")
    ctx = _ctx(["-A", "-a", "CANCEL=l:x"], capsys)
    assert _run_plugin(plugin, ctx.invocation.action, ctx) == 1  # type: ignore[arg-type]
    assert len(plugin.calls) == 3
    assert capsys.readouterr().err == "ctys: P:/a.conf: that one failed\n"


def test_without_a_or_without_matches_ambiguity_stays_an_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv, matches in ((["-a", "CANCEL=l:x"], ("P:/a",)), (["-A", "-a", "CANCEL=l:x"], ())):
        plugin = _Recorder(AmbiguousAddress("amb", matches))
        ctx = _ctx(argv, capsys)
        with pytest.raises(AmbiguousAddress):
            _run_plugin(plugin, ctx.invocation.action, ctx)  # type: ignore[arg-type]
        assert len(plugin.calls) == 1


# --- -g WxH:<screen> ------------------------------------------------------------------------------

XORG = """\
Section "ServerLayout"
    Identifier "Layout0"
    Screen 0 "Screen0" 0 0
    Screen 1 "Screen4" 1280 0   # the right one
    Screen 2 "Side" RightOf "Screen4"
EndSection
Section "ServerLayout"
    Identifier "A11"
    Screen "Top" 0 -1024
EndSection
"""


@pytest.mark.parametrize(
    ("screen", "layout", "offset"),
    [("Screen4", "", (1280, 0)), ("1", "ALL", (1280, 0)), ("Screen0", "Layout0", (0, 0)),
     ("Top", "A11", (0, -1024)), ("Side", "", None), ("Screen4", "A11", None),
     ("nope", "", None), ("Top", "missing", None)],
)  # fmt: skip
def test_screen_offset_of_a_server_layout(
    screen: str, layout: str, offset: tuple[int, int] | None
) -> None:
    assert screen_offset(XORG, screen, layout) == offset


def test_screen_geometry_adds_the_offset_given(tmp_path: Path) -> None:
    conf = tmp_path / "xorg.conf"
    conf.write_text(XORG)
    assert screen_geometry("800x600", ("Screen4", "", str(conf))) == "800x600+1280+0"
    assert screen_geometry("800x600+10+20", ("Screen4", "", str(conf))) == "800x600+1290+20"
    assert screen_geometry("800x600", ("Top", "A11", str(conf))) == "800x600+0-1024"
    assert screen_geometry("800x600", ("Screen4", "", str(tmp_path / "none"))) is None


def test_an_unknown_screen_is_one_line_and_the_plain_geometry(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ctys.cli import main as main_module

    seen: list[Invocation] = []
    monkeypatch.setattr(main_module, "_run_plugin", lambda p, a, c: seen.append(c.invocation) or 0)
    conf = "/nonexistent/xorg.conf"
    assert main(["-t", "QEMU", "-a", "LIST", "-g", f"1268x992:A11:ALL:{conf}"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"ctys: -g 1268x992:A11:ALL:{conf}: screen 'A11:ALL:{conf}' not found in an xorg.conf"
        " ServerLayout with absolute positions; the window is 1268x992"
    ]
    assert seen[0].geometry == "1268x992" and seen[0].geometry_screen == ()


# --- the -L CF tunnel, pure parts -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "endpoint"),
    [
        ("unix:/run/vm/vnc.sock", VncEndpoint(unix_path="/run/vm/vnc.sock")),
        ("127.0.0.1:5901", VncEndpoint(host="127.0.0.1", port=5901)),
        ("0.0.0.0:5902", VncEndpoint(host="127.0.0.1", port=5902)),
        ("[::]:5903", VncEndpoint(host="127.0.0.1", port=5903)),
        ("[::1]:5904", VncEndpoint(host="::1", port=5904)),
        ("10.0.0.5:5910-5999", VncEndpoint(host="10.0.0.5", port=5910)),
    ],
)
def test_vnc_endpoints(text: str, endpoint: VncEndpoint) -> None:
    assert parse_vnc_endpoint(text) == endpoint


@pytest.mark.parametrize("text", ["unix:", "host", "host:0", "host:99999", "host:x", ""])
def test_bad_vnc_endpoints(text: str) -> None:
    with pytest.raises(CtysError, match="cannot forward the VNC server"):
        parse_vnc_endpoint(text)


def test_forward_specs() -> None:
    local = Path("/rt/tunnels/cf-1/vnc.sock")
    assert forward_spec(local, VncEndpoint(unix_path="/r/vnc.sock")) == f"{local}:/r/vnc.sock"
    assert forward_spec(local, VncEndpoint(port=5901)) == f"{local}:127.0.0.1:5901"
    assert forward_spec(local, VncEndpoint(host="::1", port=5901)) == f"{local}:[::1]:5901"


def test_tunnel_argv_fails_on_a_bad_forward_and_keeps_the_socket_private() -> None:
    argv = tunnel_argv(Target("h1", "me"), "/l.sock:/r.sock", user=None, connect_timeout=5, env={})
    assert argv[0] == "ssh" and argv[-2:] == ["--", "h1"]
    joined = " ".join(argv)
    for option in ("ExitOnForwardFailure=yes", "StreamLocalBindMask=0177", "BatchMode=yes",
                   "-l me", "-L /l.sock:/r.sock", "-N"):  # fmt: skip
        assert option in joined
    assert "ControlMaster" not in joined  # its own connection: it ends with the client


ROWS = [
    {"LABEL": "a", "UUID": "U-1", "CONF": "/v/a.conf", "VMID": "a-1", "VNC": "unix:/s/a",
     "CONSOLE": "/s/a.console"},
    {"LABEL": "b", "UUID": "U-2", "CONF": "/v/b.conf", "VMID": "b-2", "VNC": None},
    {"LABEL": "a", "UUID": "U-3", "CONF": "/w/a.conf", "VMID": "a-3", "VNC": "unix:/s/a3"},
]  # fmt: skip


def _pick(action: str) -> dict[str, object]:
    from ctys.plugins.qemu.actions.forwarding import select_row

    return select_row(ROWS, parse_action(action))


def test_the_qemu_plugin_picks_the_row_the_address_names() -> None:
    assert _pick("CREATE=l:b")["VMID"] == "b-2"
    assert _pick("CREATE=UUID:u-3")["VMID"] == "a-3"
    assert _pick("CREATE=P:/v/a.conf,CONSOLE:VNC")["VMID"] == "a-1"
    assert _pick("CREATE=l:a,ID:/w/a.conf")["VMID"] == "a-3"
    with pytest.raises(CtysError, match="2 running VMs match"):
        _pick("CREATE=l:a")
    with pytest.raises(CtysError, match="no running VM matches"):
        _pick("CREATE=l:zz")
    with pytest.raises(UsageError, match="LABEL, UUID"):
        _pick("CREATE=MAC:52:54:00:00:00:01")


def test_the_qemu_plugin_forwards_vnc_or_the_serial_console() -> None:
    from ctys.plugins.base import ClientEndpoint
    from ctys.plugins.registry import load_plugin

    forwarding = load_plugin("QEMU").forwarding("CREATE")
    assert forwarding is not None and load_plugin("QEMU").forwarding("LIST") is None
    call = parse_action("CREATE=VMID:a-1")
    assert forwarding.endpoint(call, ROWS) == ClientEndpoint("a", "unix:/s/a", False)
    serial = parse_action("CREATE=VMID:a-1,CONSOLE:CLI")
    assert forwarding.endpoint(serial, ROWS) == ClientEndpoint("a", "/s/a.console", True)
    with pytest.raises(CtysError, match="-L CF: b has no VNC server to forward"):
        forwarding.endpoint(parse_action("CREATE=l:b"), ROWS)
    with pytest.raises(CtysError, match="-L CF: a has no serial console to forward"):
        forwarding.endpoint(parse_action("CREATE=VMID:a-3,CONSOLE:CLI"), ROWS)


# --- -c ON,LOCAL[,ONLY] for a remote target ------------------------------------------------------


@pytest.fixture
def local_inventory(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from ctys.inventory.record import InventoryRecord
    from ctys.inventory.store import Inventory

    path = short_tmp / "inv.sqlite"
    uuid = "aaaaaaaa-0000-4000-8000-000000000001"
    with Inventory.open(path) as inv:
        inv.add([
            InventoryRecord(host="h1", label="vm1", uuid=uuid, pname="/h1/vms/vm 1.conf"),
            InventoryRecord(host="h2", label="vm1", uuid=uuid, pname="/h2/vm1.conf"),
        ])  # fmt: skip
    monkeypatch.setenv("CTYS_INVENTORY", str(path))
    return path


def test_c_local_sends_the_conf_path_the_local_inventory_has_for_that_host(
    local_inventory: Path,
) -> None:
    inv = scan_argv(["-a", "CREATE=l:vm1,CONSOLE:VNC", "-c", "local", "h1", "h2", "h3"])
    h1, h2, h3 = (target_args(inv, t) for t in inv.targets)
    assert h1[h1.index("-a") + 1] == "CREATE=P:/h1/vms/vm 1.conf,CONSOLE:VNC"
    assert h2[h2.index("-a") + 1] == "CREATE=P:/h2/vm1.conf,CONSOLE:VNC"
    # Unknown here: sent as typed, the target scans (its inventory is off either way).
    assert h3[h3.index("-a") + 1] == "CREATE=l:vm1,CONSOLE:VNC"
    assert all(args[args.index("-C") + 1] == "off" for args in (h1, h2, h3))


def test_c_local_only_refuses_a_host_the_local_inventory_does_not_know(
    local_inventory: Path,
) -> None:
    inv = scan_argv(["-a", "CANCEL=l:vm1", "-c", "local,only", "h1", "h3"])
    assert "CANCEL=P:/h1/vms/vm 1.conf" in target_args(inv, inv.targets[0])
    with pytest.raises(AddressError, match=r"h3: CANCEL=l:vm1: no entry for that host .*ONLY"):
        target_args(inv, inv.targets[1])
    # An action without an address (LIST) has nothing to resolve.
    listing = scan_argv(["-a", "CANCEL=ALL", "-c", "local,only", "h3"])
    assert "CANCEL=ALL" in target_args(listing, listing.targets[0])


def test_cf_console_choice() -> None:
    from ctys.plugins.qemu.actions.forwarding import wants_serial

    def wants(action: str) -> bool:
        return wants_serial(parse_action(action))

    assert wants("CREATE=l:x,CONSOLE:CLI") is True
    assert wants("CREATE=l:x,console:cli") is True
    assert wants("CREATE=l:x,CONSOLE:VNC") is False
    assert wants("CREATE=l:x") is False  # the original's default console: VNC
    assert wants("CREATE=l:x,CONSOLE:XTERM") is False
    with pytest.raises(UsageError, match=r"CONSOLE:CLI0 .* use CONSOLE:CLI"):
        wants("CREATE=l:x,CONSOLE:CLI0")


def test_d_printfinal_shows_each_final_ssh_call_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _fake_ssh(tmp_path, monkeypatch)
    assert main(["-a", "CANCEL=l:x", "-d", "0,PFIN", "h1", "h2"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line.split(": ", 1)[0] for line in err] == ["h1", "h2"]
    assert all(shlex.split(line.split(": ", 1)[1])[0] == "ssh" for line in err)
    assert len(_calls(log)) == 2  # and they ran
    assert main(["-a", "CANCEL=l:x", "-d", "0,W:1", "h1"]) == 0
    assert capsys.readouterr().err == ""


def test_cf_client_is_the_viewer_command_with_the_socket_appended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ctys.remote.tunnel import _client_argv

    own = scan_argv(["-a", "CREATE=l:x", "-L", "CF", "h1"])
    monkeypatch.setenv("CTYS_VNCVIEWER", "my-viewer --shared 'a b'")
    assert _client_argv(Path("/rt/t/vnc.sock"), own, "x") == [
        "my-viewer", "--shared", "a b", "/rt/t/vnc.sock",
    ]  # fmt: skip
    monkeypatch.delenv("CTYS_VNCVIEWER")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(CtysError, match="needs a display"):  # the local viewer's own check
        _client_argv(Path("/rt/t/vnc.sock"), own, "x")


def test_target_notes_take_repeated_letters_of_a_group_member() -> None:
    """A group member's options repeat letters (``-- '(..)'``, CONTEXT, its own): the
    last wins, and a noted option among them still gets its one line."""
    import io

    from ctys.cli.dispatch import _target_notes

    inv = scan_argv(["-a", "LIST", "--", "(-a LIST -W x)", "h1(-a ENUMERATE -W y)"])
    err = io.StringIO()
    _target_notes(inv, err)
    assert err.getvalue() == (
        "ctys: h1: -W y: accepted, no effect: windows are not moved to a workspace"
        " (no wmctrl support)\n"
    )
