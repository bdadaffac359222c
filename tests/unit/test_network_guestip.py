"""Learning a guest's IP: conf, guest agent, neighbour table, user-mode."""

from __future__ import annotations

import functools
import json
import socket
import threading
from pathlib import Path

import pytest

from ctys.errors import CtysError
from ctys.plugins.qemu.net.guestip import (
    GuestIp,
    IpSource,
    Neighbour,
    agent_ip,
    guest_ip,
    ip_from_agent,
    ip_from_neighbours,
    parse_agent_interfaces,
    parse_neigh_json,
    query_agent,
    read_neighbours,
    running_vms_with_ip,
)
from ctys.plugins.qemu.net.network import (
    NetMode,
    NetworkConfig,
    Nic,
    VdeSwitchRef,
    parse_hostfwds,
    qga_socket,
)
from ctys.plugins.qemu.vmconfig import VmConfig

MAC = "52:54:00:12:34:56"
VM = VmConfig(conf_path=Path("/vms/a/a.conf"), label="a")

NEIGH = json.dumps(
    [
        {"dst": "192.0.2.1", "dev": "eth0", "lladdr": "02:fc:00:00:00:05", "state": ["REACHABLE"]},
        {"dst": "fe80::5054:ff:fe12:3456", "dev": "br0", "lladdr": MAC, "state": ["STALE"]},
        {"dst": "10.9.0.9", "dev": "br0", "lladdr": MAC.upper(), "state": ["FAILED"]},
        {"dst": "10.9.0.1", "dev": "br0", "lladdr": MAC.upper(), "state": ["STALE"]},
        {"dst": "2001:db8::1", "dev": "br0", "lladdr": MAC, "state": ["REACHABLE"]},
        {"dst": "10.9.0.3", "dev": "br0", "state": ["INCOMPLETE"]},
    ]
)

AGENT_REPLY = [
    {
        "name": "lo",
        "hardware-address": "00:00:00:00:00:00",
        "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8}],
    },
    {
        "name": "eth0",
        "hardware-address": MAC,
        "ip-addresses": [
            {"ip-address-type": "ipv6", "ip-address": "fe80::5054:ff:fe12:3456", "prefix": 64},
            {"ip-address-type": "ipv4", "ip-address": "10.9.0.2", "prefix": 24},
        ],
    },
    {"name": 7},  # not trusted: skipped
    {"name": "eth1", "ip-addresses": [{"ip-address": 5}, "junk"]},
]


def vde_net(guest_agent: bool = False) -> NetworkConfig:
    nic = Nic(0, NetMode.VDE, MAC, vde=VdeSwitchRef(name="lab"))
    return NetworkConfig((nic,), guest_agent=guest_agent)


def test_parse_neigh_json_keeps_rows_with_mac() -> None:
    rows = parse_neigh_json(NEIGH)
    assert len(rows) == 5
    assert rows[2] == Neighbour("10.9.0.9", MAC, "br0", ("FAILED",))
    assert parse_neigh_json("not json") == []
    assert parse_neigh_json('{"a": 1}') == []


def test_ip_from_neighbours_prefers_live_ipv4_of_the_mac() -> None:
    rows = parse_neigh_json(NEIGH)
    assert ip_from_neighbours([MAC], rows) == "10.9.0.1"
    assert ip_from_neighbours(["52-54-00-12-34-56"], rows[:2] + rows[4:]) == "2001:db8::1"
    assert ip_from_neighbours(["52:54:00:00:00:00"], rows) is None


def test_read_neighbours_runs_ip_json() -> None:
    seen: list[list[str]] = []

    def runner(argv: list[str]) -> str:
        seen.append(argv)
        return NEIGH

    assert len(read_neighbours(runner)) == 5
    assert seen == [["ip", "-j", "neigh", "show"]]

    def broken(argv: list[str]) -> str:
        raise FileNotFoundError("ip")

    assert read_neighbours(broken) == []


def test_parse_agent_interfaces_and_pick_by_mac() -> None:
    interfaces = parse_agent_interfaces(AGENT_REPLY)
    assert [i.name for i in interfaces] == ["lo", "eth0", "eth1"]
    assert interfaces[1].addresses[1] == ("10.9.0.2", 24)
    assert interfaces[2].addresses == ()
    assert ip_from_agent(interfaces, [MAC.upper()]) == "10.9.0.2"
    assert ip_from_agent(interfaces, ["02:00:00:00:00:01"]) is None
    assert parse_agent_interfaces({"not": "a list"}) == []


def _fake_agent(path: Path, reply: object, *, noise: bool = True) -> threading.Thread:
    """A one-client guest agent: answers guest-sync (after a stale line) and one command."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        with conn, server:
            reader = conn.makefile("rb")
            sync = json.loads(reader.readline())
            assert sync["execute"] == "guest-sync"
            if noise:
                conn.sendall(b'{"return": 1}\n')  # a reply meant for an earlier client
            conn.sendall(json.dumps({"return": sync["arguments"]["id"]}).encode() + b"\n")
            command = json.loads(reader.readline())
            assert command == {"execute": "guest-network-get-interfaces"}
            conn.sendall(json.dumps({"return": reply}).encode() + b"\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_query_agent_over_a_socket(short_tmp: Path) -> None:
    sock = short_tmp / "qga.sock"
    thread = _fake_agent(sock, AGENT_REPLY)
    assert query_agent(sock, "guest-network-get-interfaces", timeout=5) == AGENT_REPLY
    thread.join(5)


def test_query_agent_silent_agent_times_out(short_tmp: Path) -> None:
    sock = short_tmp / "qga.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock))
    server.listen(1)  # qemu's end of the port, no agent in the guest
    with server, pytest.raises(CtysError, match="did not answer"):
        query_agent(sock, "guest-network-get-interfaces", timeout=0.2)
    assert agent_ip(short_tmp / "missing.sock", [MAC]) is None


def test_guest_ip_conf_wins() -> None:
    vm = VmConfig(conf_path=Path("/vms/a/a.conf"), label="a", ip="10.9.0.5/24")
    assert guest_ip(vm, net=vde_net(), neighbours=parse_neigh_json(NEIGH)) == GuestIp(
        "10.9.0.5", IpSource.CONF
    )


def test_guest_ip_from_agent(short_tmp: Path) -> None:
    thread = _fake_agent(qga_socket(short_tmp), AGENT_REPLY, noise=False)
    found = guest_ip(VM, short_tmp, net=vde_net(guest_agent=True), neighbours=[])
    assert found == GuestIp("10.9.0.2", IpSource.AGENT)
    thread.join(5)


def test_guest_ip_from_neighbours() -> None:
    found = guest_ip(VM, net=vde_net(), neighbours=parse_neigh_json(NEIGH))
    assert found == GuestIp("10.9.0.1", IpSource.NEIGHBOUR)
    assert found.shown() == "10.9.0.1"
    assert guest_ip(VM, net=vde_net(), neighbours=[]).source is IpSource.UNKNOWN


def test_guest_ip_user_mode_is_not_10_0_2_15() -> None:
    nic = Nic(0, NetMode.USER, MAC, hostfwd=parse_hostfwds("tcp:127.0.0.1:2222-:22"))
    found = guest_ip(VM, net=NetworkConfig((nic,)), neighbours=parse_neigh_json(NEIGH))
    assert found.address is None
    assert found.source is IpSource.USER_MODE
    assert found.shown() == "user-mode 127.0.0.1:2222->22/tcp"
    assert guest_ip(VM, net=NetworkConfig()).shown() is None


def test_running_vms_with_ip_by_neighbour_table(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ctys.plugins.qemu.confs.mapping import load_vm_config
    from ctys.plugins.qemu.vm import runtime as runtime_mod
    from ctys.plugins.qemu.vm.cmdline import parse_qemu_cmdline
    from ctys.plugins.qemu.vm.processes import QemuProcess
    from ctys.plugins.qemu.vm.runtime import RuntimeDir, RuntimeRecord

    runtime = RuntimeDir(short_tmp / "rt")
    for label, mac in (("a", MAC), ("b", "52:54:00:00:00:0b")):
        conf = short_tmp / label / f"{label}.conf"
        conf.parent.mkdir()
        conf.write_text(f"#@#MAGICID-QEMU\n#@#VDENET = lab\n#@#MAC = {mac}\n")
        vmdir = runtime.create_vm_dir(label)
        vmdir.write_record(RuntimeRecord(vmid=label, label=label, conf=str(conf), pid=4242))
    qemu = QemuProcess(4242, "me", 0.0, parse_qemu_cmdline(["qemu-system-x86_64"]))
    monkeypatch.setattr(
        runtime_mod,
        "living_qemu",
        lambda pid, rundir, snapshot=None: None if rundir.vmid == "b" else qemu,
    )
    table = parse_neigh_json(NEIGH)
    found = running_vms_with_ip("10.9.0.1", runtime, loader=load_vm_config, neighbours=table)
    assert found == [short_tmp / "a" / "a.conf"]
    assert running_vms_with_ip("10.9.0.2", runtime, loader=load_vm_config, neighbours=table) == []
    assert load_vm_config(found[0]).label == "a"
    assert not runtime.vm("b").path.exists()  # the one stale rule: b's qemu is gone


def test_a_cached_table_reader_is_read_once_for_many_vms() -> None:
    calls: list[int] = []

    def reader() -> list[Neighbour]:
        calls.append(1)
        return parse_neigh_json(NEIGH)

    cached = functools.cache(reader)
    first = guest_ip(VM, net=vde_net(), read_table=cached)
    second = guest_ip(VM, net=vde_net(), read_table=cached)
    assert first == second
    assert first.source is IpSource.NEIGHBOUR
    assert calls == [1]
