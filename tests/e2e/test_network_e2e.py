"""Guest networking with real TCG guests: a VDE switch shared by two guests, and a
user-mode guest reached from the host through a port forward."""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from ctys.consoles.serial import SerialConsole
from support.cli import Ctys
from support.procs import live_qemu_pids, live_switch_pids
from support.rows import list_rows

PROMPT = "guest#"


def _console(ctys_env: dict[str, str], label: str) -> SerialConsole:
    [sock] = Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob(f"{label}-*/console.sock")
    return SerialConsole(sock, timeout=30)


def _run(console: SerialConsole, command: str, timeout: float = 30) -> tuple[int, str]:
    """Run ``command`` in the guest shell; its exit status and output."""
    console.send_line(f"{command}; echo RC=$?")
    out = console.read_until(re.compile(rb"RC=\d+"), timeout=timeout).decode(errors="replace")
    status = re.findall(r"RC=(\d+)", out)[-1]
    return int(status), out


def _add_keys(conf: Path, *lines: str) -> None:
    with conf.open("a") as out:
        out.write("\n".join(lines) + "\n")


def _create(ctys: Ctys, label: str) -> None:
    done = ctys("-t", "QEMU", "-a", f"CREATE=l:{label},WAIT:{PROMPT}", "-b", "1", timeout=120)
    assert done.returncode == 0, done.stderr


def test_two_guests_on_one_vde_switch_ping_each_other(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str]
) -> None:
    runtime = ctys_env["CTYS_RUNTIME_DIR"]
    for n in (1, 2):
        conf = make_vm(f"net{n}", extra_append=f"ctys.ip=10.9.0.{n}/24")
        _add_keys(conf, "#@#VDENET = lab", f"#@#IP = 10.9.0.{n}")
    _create(ctys, "net1")
    switch = Path(runtime, "vde", "lab.ctl")
    assert (switch / "ctl").exists()
    _create(ctys, "net2")
    assert len(live_switch_pids(runtime)) == 1  # the second VM joined the running switch

    with _console(ctys_env, "net1") as console:
        status, out = _run(console, "ping -c 1 -W 2 10.9.0.2")
        assert status == 0, out
        assert "1 packets received" in out
        # An address nobody has: no answer (the ping is real, not a local echo).
        status, out = _run(console, "ping -c 1 -W 1 10.9.0.3")
        assert status != 0, out
    with _console(ctys_env, "net2") as console:
        status, out = _run(console, "ping -c 1 -W 2 10.9.0.1")
        assert status == 0, out

    ips = {row["LABEL"]: row["IP"] for row in list_rows(ctys, runtime)}
    assert ips == {"net1": "10.9.0.1", "net2": "10.9.0.2"}

    # The first VM goes (by its IP address): the switch stays for the second.
    done = ctys("-t", "QEMU", "-a", "CANCEL=IP:10.9.0.1,TIMEOUT:20")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("net1:")
    assert len(live_switch_pids(runtime)) == 1
    done = ctys("-t", "QEMU", "-a", "CANCEL=l:net2,TIMEOUT:20")
    assert done.returncode == 0, done.stderr
    # The last VM is gone: so is the switch, with its sockets.
    assert live_switch_pids(runtime) == []
    assert not switch.exists()
    assert not Path(runtime, "vde", "lab.mgmt").exists()


def test_switch_of_a_killed_vm_is_gone_after_the_next_list(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str]
) -> None:
    runtime = ctys_env["CTYS_RUNTIME_DIR"]
    conf = make_vm("lone")
    _add_keys(conf, "#@#VDENET = solo")
    done = ctys("-t", "QEMU", "-a", "CREATE=l:lone", "-b", "1", timeout=120)
    assert done.returncode == 0, done.stderr
    [switch] = live_switch_pids(runtime)
    [pid] = live_qemu_pids(runtime)
    # The VM ends without CANCEL (killed, crashed): nobody uses its switch any more ...
    qemu = psutil.Process(pid)
    qemu.kill()
    with contextlib.suppress(psutil.Error):
        qemu.wait(5)
    assert live_switch_pids(runtime) == [switch]
    # ... and the next ctys command that uses the runtime dir stops it, with its files.
    assert list_rows(ctys, runtime) == []
    assert live_switch_pids(runtime) == []
    assert not Path(runtime, "vde", "solo.ctl").exists()
    assert not Path(runtime, "vde", "solo.pid").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read_forward(port: int, timeout: float = 30) -> bytes:
    """Connect to the forwarded port until the guest's server answers."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 5) as s:
            s.settimeout(5)
            data = s.recv(100)
            if data:
                return data
        if time.monotonic() >= deadline:
            raise AssertionError(f"nothing answered on 127.0.0.1:{port}")
        time.sleep(0.2)


def test_user_mode_guest_reachable_through_port_forward(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str]
) -> None:
    port = _free_port()
    # 10.0.2.15 is where slirp delivers forwards (it is the address its DHCP would give).
    conf = make_vm("fwd", extra_append="ctys.ip=10.0.2.15/24")
    _add_keys(conf, f"#@#HOSTFWD = tcp:127.0.0.1:{port}-:7777")
    _create(ctys, "fwd")
    with _console(ctys_env, "fwd") as console:
        console.send_line("nc -ll -p 7777 -e echo hello-from-guest &")
        assert _read_forward(port).startswith(b"hello-from-guest")
    # Nothing else on the host answers there: it was the guest.
    done = ctys("-t", "QEMU", "-a", "CANCEL=l:fwd,TIMEOUT:20")
    assert done.returncode == 0, done.stderr
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_bad_network_key_fails_before_booting(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str]
) -> None:
    conf = make_vm("badnet")
    _add_keys(conf, "#@#NETMODE = vde")
    done = ctys("-t", "QEMU", "-a", "CREATE=l:badnet", "-b", "1")
    assert done.returncode != 0
    assert "badnet.conf:" in done.stderr and "NETMODE vde needs VDENET" in done.stderr
    assert not list(Path(ctys_env["CTYS_RUNTIME_DIR"]).glob("vms/badnet-*"))
