"""VDE links across hosts (``VDENET = lab@hostB``): parsing, the link's argv, the link's
files, the local switch ignoring its own links, and the remote end ``ctys-vdeplug`` with
a real vde_switch (no ssh, no qemu)."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_network import net_of

from ctys.errors import ConfError
from ctys.invocation import Target
from ctys.plugins.qemu.net.network import (
    NetworkError,
    VdeSwitchRef,
    check_switch_name,
    parse_vde_network,
)
from ctys.plugins.qemu.net.vde import (
    VdeSwitch,
    managed_switches,
    release_idle_switches,
    switch_in_use,
    switches_up,
)
from ctys.plugins.qemu.net.vdelink import (
    READY_MARK,
    VdeLink,
    check_switch_id,
    incoming_links,
    link_argv,
    link_processes,
    link_stem,
    links_of,
    planned_link_argv,
    ready_line,
    remote_helper,
    remote_id,
    switch_id,
)
from ctys.remote.ssh import ssh_options
from support.procs import live_switch_pids

needs_vde = pytest.mark.skipif(
    not all(shutil.which(p) for p in ("vde_switch", "vde_plug", "dpipe")),
    reason="vde2 not installed",
)
NAME = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
HOST = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,20}", fullmatch=True).filter(
    lambda h: h not in ("localhost", "127.0.0.1")
)
ORIGIN = "0123456789abcdef0123456789abcdef"
# Pure functions: only a loaded machine makes them slow, which is no failure.
RELAXED = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
USER = st.from_regex(r"[a-z_][a-z0-9_-]{0,10}", fullmatch=True)


# --- parsing ------------------------------------------------------------------------------


def test_parse_plain_name_and_links() -> None:
    assert parse_vde_network("lab") == VdeSwitchRef(name="lab")
    assert parse_vde_network(" lab@hostB ") == VdeSwitchRef(name="lab", peer=Target("hostB"))
    assert parse_vde_network("lab@bob@hostB") == VdeSwitchRef(
        name="lab", peer=Target("hostB", "bob")
    )
    assert parse_vde_network("lab@10.0.0.7").peer == Target("10.0.0.7")
    assert parse_vde_network("lab@[fe80::1]").peer == Target("[fe80::1]")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lab@", "not a VDE link"),
        ("@hostB", "not a VDE network name"),
        ("la b@hostB", "not a VDE network name"),
        ("lab@-oProxyCommand=x", "bad host '-oProxyCommand=x' in VDE link"),
        ("lab@host;rm", "bad host 'host;rm'"),
        ("lab@host b", "bad host 'host b'"),
        ("lab@$(id)", "not a VDE link"),
        ("lab@`id`", "bad host"),
        ("lab@hostB(-d 1)", "not a VDE link"),
        ("lab@-x@hostB", "bad host '-x@hostB'"),
        ("lab@localhost", "needs another host"),
        ("lab@127.0.0.1", "needs another host"),
    ],
)
def test_parse_refuses_bad_links(text: str, message: str) -> None:
    with pytest.raises(NetworkError, match=message.replace("(", r"\(")) as info:
        parse_vde_network(text)
    assert "\n" not in str(info.value)


@RELAXED
@given(NAME, st.none() | USER, HOST)
def test_parse_round_trips(name: str, user: str | None, host: str) -> None:
    target = f"{user}@{host}" if user else host
    ref = parse_vde_network(f"{name}@{target}")
    assert ref == VdeSwitchRef(name=name, peer=Target(host, user))
    assert link_stem(name, Target(host, user)) == f"{name}@{target}"
    assert VdeLink.of(name, Target(host, user), Path("/x")).peer_text == target


def test_conf_link_gives_a_managed_switch_and_one_link(tmp_path: Path) -> None:
    net = net_of(tmp_path, "#@#VDENET = lab@hostB", "#@#VDENET1 = lab@hostB", "VDENET2=lab")
    assert net.managed_switches() == ("lab",)
    assert net.vde_links() == (("lab", Target("hostB")),)
    assert net_of(tmp_path, "#@#VDENET = lab").vde_links() == ()


def test_conf_bad_link_names_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfError, match=r"vm1\.conf:4: #@#VDENET: bad host '-oX' in VDE link"):
        net_of(tmp_path, "#@#VDENET = lab@-oX")


# --- the link's command line --------------------------------------------------------------


def test_link_argv_exact(tmp_path: Path) -> None:
    argv = link_argv(
        Path("/rt/vde/lab.ctl"),
        "lab",
        Target("hostB", "bob"),
        ORIGIN,
        control_dir=Path("/rt/ssh"),
        connect_timeout=7.5,
        env={"CTYS_SSH_CONFIG": "/cfg"},
    )
    assert argv == [
        "dpipe", "vde_plug", "/rt/vde/lab.ctl", "=",
        "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=8", "-F", "/cfg",
        "-o", "ControlMaster=no", "-o", "ControlPath=/rt/ssh/%C", "-l", "bob",
        "-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3",
        "-T", "--", "hostB", f"ctys-vdeplug lab {ORIGIN}",
    ]  # fmt: skip
    # A link never becomes a master connection that would outlive it.
    assert not any(a.startswith("ControlPersist") for a in argv)


def test_link_argv_without_sharing_and_ipv6() -> None:
    argv = link_argv(
        Path("/rt/vde/lab.ctl"), "lab", Target("[fe80::1]"), ORIGIN, control_dir=None,
        connect_timeout=10, env={},
    )  # fmt: skip
    assert argv[-3:] == ["--", "fe80::1", f"ctys-vdeplug lab {ORIGIN}"]
    assert not any("Control" in a for a in argv)


@RELAXED
@given(NAME)
def test_remote_command_is_one_quoted_word(name: str) -> None:
    env = {"CTYS_REMOTE_VDEPLUG": "'/opt/my ctys/bin/ctys-vdeplug'"}
    argv = link_argv(
        Path("/rt/vde") / f"{check_switch_name(name)}.ctl", name, Target("h"), ORIGIN,
        control_dir=None, connect_timeout=10, env=env,
    )  # fmt: skip
    assert shlex.split(argv[-1]) == ["/opt/my ctys/bin/ctys-vdeplug", name, ORIGIN]
    assert argv[2] == f"/rt/vde/{name}.ctl" and argv[3] == "="


def test_planned_link_argv_takes_the_settings_and_writes_nothing(tmp_path: Path) -> None:
    env = {"CTYS_CONNECT_TIMEOUT": "3", "CTYS_REMOTE_CTYS": "/v/bin/ctys"}
    argv = planned_link_argv(
        "lab", Target("hostB"), tmp_path / "vde", "ID", control_dir=tmp_path / "ssh", env=env
    )
    assert argv[2:4] == [str(tmp_path / "vde" / "lab.ctl"), "="]
    assert "ConnectTimeout=3" in argv and f"ControlPath={tmp_path}/ssh/%C" in argv
    assert argv[-1] == "/v/bin/ctys-vdeplug lab ID"
    assert list(tmp_path.iterdir()) == []


def test_remote_helper_follows_the_remote_ctys() -> None:
    assert remote_helper({}) == ["ctys-vdeplug"]
    assert remote_helper({"CTYS_REMOTE_CTYS": "/venv/bin/ctys"}) == ["/venv/bin/ctys-vdeplug"]
    # A ctys run through some other command: the helper from the PATH.
    assert remote_helper({"CTYS_REMOTE_CTYS": "python3 -m ctys"}) == ["ctys-vdeplug"]
    assert remote_helper({"CTYS_REMOTE_VDEPLUG": "a 'b c'"}) == ["a", "b c"]


def test_ssh_options_master_flag() -> None:
    shared = ssh_options(Target("h"), user=None, connect_timeout=5, control_dir=Path("/c"), env={})
    assert "ControlMaster=auto" in shared and "ControlPersist=60" in shared
    client = ssh_options(
        Target("h"), user=None, connect_timeout=5, control_dir=Path("/c"), env={}, master=False
    )
    assert "ControlMaster=no" in client and "ControlPath=/c/%C" in client
    assert not any(a.startswith("ControlPersist") for a in client)


# --- the link's files and the local switch ------------------------------------------------


def test_link_files_are_not_taken_for_switches(tmp_path: Path) -> None:
    for name in ("lab.pid", "lab@hostB.link", "lab@bob@hostC.linklog", "lab2@hostB.link"):
        (tmp_path / name).write_text("1\n")
    assert [s.name for s in managed_switches(tmp_path)] == ["lab"]
    assert [link.stem for link in links_of("lab", tmp_path)] == ["lab@bob@hostC", "lab@hostB"]
    assert [link.peer_text for link in links_of("lab", tmp_path)] == ["bob@hostC", "hostB"]
    # A pid file naming a process that is no dpipe of this switch: no running link.
    (tmp_path / "lab@hostB.link").write_text(f"{os.getpid()}\n")
    assert VdeLink.of("lab", Target("hostB"), tmp_path).pid() is None


@pytest.fixture
def vde(short_tmp: Path) -> Iterator[Path]:
    yield short_tmp / "vde"
    for pid in live_switch_pids(str(short_tmp)):
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


def _fake_link(vde: Path, name: str, peer: str) -> psutil.Popen:
    """A link as ctys starts one, with ``sleep`` for the ssh side: its dpipe in the
    link's pid file, its vde_plug in the switch."""
    ctl = vde / f"{name}.ctl"
    proc = psutil.Popen(
        ["dpipe", "vde_plug", str(ctl), "=", "sleep", "60"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    (vde / f"{name}@{peer}.link").write_text(f"{proc.pid}\n")
    (vde / f"{name}@{peer}.linklog").write_text("")
    # Up as a real link is once it was started (dpipe runs both sides, in its own group).
    [link] = links_of(name, vde)
    assert _wait(lambda: len(link.processes()) == 3)
    return proc


def _switch_with_link(vde: Path) -> tuple[VdeSwitch, psutil.Popen]:
    """The running switch ``lab`` and a (fake) link of it to hostB."""
    with switches_up(["lab"], vde):
        pass
    return VdeSwitch("lab", vde), _fake_link(vde, "lab", "hostB")


def _wait(check, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@needs_vde
def test_a_switch_whose_only_user_is_its_link_is_idle_and_goes_with_it(vde: Path) -> None:
    switch, link_proc = _switch_with_link(vde)
    [link] = links_of("lab", vde)
    # The link's plug names the switch and is plugged in: still no use.
    assert not switch_in_use(switch)
    # A VM (anything else naming the switch) is a use.
    holder = psutil.Popen([sys.executable, "-c", "import time; time.sleep(30)", str(switch.ctl)])
    try:
        assert switch_in_use(switch)
        assert release_idle_switches(vde) == []
    finally:
        holder.kill()
        holder.wait()
    members = [psutil.Process(p) for p in link.processes()]
    assert release_idle_switches(vde) == ["lab"]
    link_proc.wait(5)
    _, alive = psutil.wait_procs(members, timeout=5)
    assert alive == []
    assert live_switch_pids(str(vde)) == []
    assert sorted(p.name for p in vde.iterdir()) == ["lab.lock"]


@needs_vde
def test_the_links_of_a_dead_switch_go_at_the_sweep(vde: Path) -> None:
    switch, link_proc = _switch_with_link(vde)
    pid = switch.pid()
    assert pid is not None
    psutil.Process(pid).kill()
    assert _wait(lambda: not switch.running())
    release_idle_switches(vde)
    link_proc.wait(5)
    assert sorted(p.name for p in vde.iterdir()) == ["lab.lock"]


# --- the remote end -----------------------------------------------------------------------


def _vdeplug(runtime: Path, *args: str) -> subprocess.Popen[str]:
    exe = Path(sys.executable).parent / "ctys-vdeplug"
    return subprocess.Popen(
        [str(exe), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CTYS_RUNTIME_DIR": str(runtime)},
    )


@pytest.fixture
def remote_rt(short_tmp: Path) -> Iterator[Path]:
    """A private runtime dir for the remote end; no switch of it is left afterwards."""
    runtime = short_tmp / "rt"
    runtime.mkdir(mode=0o700)
    yield runtime
    for pid in live_switch_pids(str(runtime)):
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()


@contextlib.contextmanager
def _plugged_remote_end(runtime: Path) -> Iterator[subprocess.Popen[str]]:
    """``ctys-vdeplug lab`` with pipes for the ssh channel, once it said it is plugged in
    (with the identity of its switch)."""
    proc = _vdeplug(runtime, "lab")
    try:
        assert proc.stderr is not None and proc.stdin is not None
        ready = proc.stderr.readline().strip()
        assert remote_id(ready) == switch_id(runtime / "vde", "lab")
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@needs_vde
def test_remote_end_starts_the_switch_and_stops_it_when_the_channel_closes(
    remote_rt: Path,
) -> None:
    with _plugged_remote_end(remote_rt) as proc:
        switch = VdeSwitch("lab", remote_rt / "vde")
        assert switch.running()
        assert switch_in_use(switch)  # the channel's vde_plug is plugged in
        assert proc.stdin is not None
        proc.stdin.close()  # the ssh channel closes
        assert proc.wait(15) == 0
    assert not switch.running()
    assert live_switch_pids(str(remote_rt)) == []
    assert sorted(p.name for p in (remote_rt / "vde").iterdir()) == ["lab.lock"]


@needs_vde
def test_remote_end_keeps_a_switch_a_vm_there_uses(remote_rt: Path) -> None:
    vde = remote_rt / "vde"
    with switches_up(["lab"], vde):
        pass
    switch = VdeSwitch("lab", vde)
    holder = psutil.Popen([sys.executable, "-c", "import time; time.sleep(30)", str(switch.ctl)])
    try:
        with _plugged_remote_end(remote_rt) as proc:
            assert proc.stdin is not None
            proc.stdin.close()
            assert proc.wait(15) == 0
        assert switch.running()  # the VM's
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((), "usage: ctys-vdeplug NAME"),
        (("a", "b", "c"), "usage: ctys-vdeplug NAME"),
        (("a", "b"), "ctys-vdeplug: not a switch identity: 'b'"),
        (("bad name",), "ctys-vdeplug: not a VDE network name"),
    ],
)
def test_remote_end_bad_usage(short_tmp: Path, args: tuple[str, ...], error: str) -> None:
    proc = _vdeplug(short_tmp / "rt", *args)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.startswith(error) and err.count("\n") == 1
    assert out == ""
    assert not (short_tmp / "rt").exists()


def test_switch_identity_and_ready_line(tmp_path: Path) -> None:
    ident = switch_id(tmp_path, "lab")
    assert check_switch_id(ident) == ident
    assert switch_id(tmp_path, "lab") == ident  # kept while the switch runs
    assert (tmp_path / "lab.id").stat().st_mode & 0o777 == 0o600
    assert switch_id(tmp_path, "other") != ident
    assert ready_line(ident) == f"{READY_MARK} {ident}"
    assert remote_id(f"ssh: warning\n{ready_line(ident)}\n") == ident
    assert remote_id(f"{READY_MARK} not-an-id\n") is None
    assert remote_id("") is None
    with pytest.raises(ValueError, match="not a switch identity"):
        check_switch_id("$(id)")


@needs_vde
def test_the_twin_of_a_link_is_no_use_either(vde: Path, short_tmp: Path) -> None:
    """hostA links lab to hostB, hostB links its lab back: on hostA the remote end of
    hostB's link comes from the switch hostA's own link goes to, so it keeps nothing."""
    switch, link_proc = _switch_with_link(vde)
    [link] = links_of("lab", vde)
    peer = "fedcba9876543210fedcba9876543210"
    link.log.write_text(ready_line(peer) + "\n")
    remote = short_tmp / "ctys-vdeplug"  # a stand-in remote end: its argv as ssh runs it
    # Not exec: the remote end is the parent of its vde_plug.
    remote.write_text(f"#!/bin/sh\nvde_plug {switch.ctl}\n")
    remote.chmod(0o700)

    def incoming(origin: str) -> psutil.Popen:
        return psutil.Popen(
            ["sh", str(remote), "lab", origin], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
        )

    def end(proc: psutil.Popen) -> None:
        procs = [*proc.children(recursive=True), proc]
        for member in procs:
            with contextlib.suppress(psutil.Error):
                member.kill()
        psutil.wait_procs(procs, timeout=5)

    stranger = incoming("0" * 32)
    try:
        assert _wait(lambda: "0" * 32 in incoming_links("lab", vde))
        assert switch_in_use(switch)  # a link from some other switch: a use
    finally:
        end(stranger)
    twin = incoming(peer)
    try:
        assert _wait(lambda: peer in incoming_links("lab", vde))
        assert incoming_links("lab", vde)[peer] <= link_processes("lab", vde)
        assert not switch_in_use(switch)
        assert release_idle_switches(vde) == ["lab"]
        link_proc.wait(5)
    finally:
        end(twin)
