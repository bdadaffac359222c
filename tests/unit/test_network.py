"""Network keys of a conf file, and the qemu arguments they give."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctys.errors import ConfError
from ctys.plugins.qemu.boot.argv import LaunchSpec, build_argv
from ctys.plugins.qemu.confs.mapping import load_vm_config
from ctys.plugins.qemu.net.netconf import network_config
from ctys.plugins.qemu.net.network import (
    HostForward,
    NetMode,
    NetworkConfig,
    NetworkError,
    Nic,
    VdeSwitchRef,
    derive_mac,
    has_network_args,
    network_args,
    normalize_mac,
    parse_hostfwd,
    parse_hostfwds,
    vde_sockets_in_argv,
)
from ctys.plugins.qemu.vm.runtime import VmRuntimeDir
from ctys.plugins.qemu.vmconfig import Accelerator

UUID = "5a2b7c1e-93d4-4c0e-9f6a-0b1c2d3e4f50"


def conf(tmp_path: Path, *lines: str, uuid: bool = True) -> Path:
    path = tmp_path / "vm1" / "vm1.conf"
    path.parent.mkdir(exist_ok=True)
    head = ["#@#MAGICID-QEMU", "#@#LABEL = vm1"] + ([f"#@#UUID = {UUID}"] if uuid else [])
    path.write_text("\n".join([*head, *lines]) + "\n")
    return path


def net_of(tmp_path: Path, *lines: str, uuid: bool = True) -> NetworkConfig:
    return network_config(load_vm_config(conf(tmp_path, *lines, uuid=uuid)))


# --- pure values ------------------------------------------------------------------------


def test_normalize_mac_accepts_both_separators_and_lowercases() -> None:
    assert normalize_mac("52-54-00-AB-cd-0F") == "52:54:00:ab:cd:0f"
    assert normalize_mac(" 02:00:00:00:00:01 ") == "02:00:00:00:00:01"


@pytest.mark.parametrize("bad", ["52:54:00:12:34", "52:54:00:12:34:5g", "52:54-00:12:34:56", ""])
def test_normalize_mac_refuses_malformed(bad: str) -> None:
    with pytest.raises(NetworkError, match="not a MAC"):
        normalize_mac(bad)


def test_normalize_mac_refuses_multicast() -> None:
    with pytest.raises(NetworkError, match="multicast"):
        normalize_mac("01:00:5e:00:00:01")


def test_derive_mac_is_stable_local_unicast_and_differs_per_nic_and_seed() -> None:
    a0 = derive_mac(UUID, 0)
    assert a0 == derive_mac(UUID, 0)
    assert a0.startswith("52:54:00:")
    assert normalize_mac(a0) == a0
    assert a0 != derive_mac(UUID, 1)
    assert a0 != derive_mac("other", 0)


def test_parse_hostfwd_forms() -> None:
    assert parse_hostfwd("tcp:127.0.0.1:2222-:22") == HostForward("tcp", "127.0.0.1", 2222, "", 22)
    assert parse_hostfwd(":8080-10.0.2.15:80") == HostForward("tcp", "", 8080, "10.0.2.15", 80)
    assert parse_hostfwd("udp::5353-:53").proto == "udp"
    fwd = parse_hostfwd("tcp:127.0.0.1:2222-:22")
    assert fwd.qemu() == "tcp:127.0.0.1:2222-:22"
    assert str(fwd) == "127.0.0.1:2222->22/tcp"


@pytest.mark.parametrize(
    "bad", ["2222:22", "tcp:127.0.0.1:2222", "sctp::1-:2", "tcp::0-:22", "::70000-:1"]
)
def test_parse_hostfwd_refuses(bad: str) -> None:
    with pytest.raises(NetworkError):
        parse_hostfwd(bad)


def test_parse_hostfwds_list_separators() -> None:
    fwds = parse_hostfwds("tcp::2222-:22, tcp::8080-:80;udp::53-:53")
    assert [f.host_port for f in fwds] == [2222, 8080, 53]


def test_has_network_args() -> None:
    assert has_network_args(["-device", "x", "-netdev", "user,id=a"])
    assert has_network_args(["-nic", "none"])
    assert not has_network_args(["-device", "virtio-rng-pci", "-name", "-netdev-like"])


def test_network_args_per_mode(tmp_path: Path) -> None:
    vde = tmp_path / "vde"
    nics = (
        Nic(0, NetMode.USER, "52:54:00:00:00:01", hostfwd=(parse_hostfwd(":2222-:22"),)),
        Nic(1, NetMode.VDE, "52:54:00:00:00:02", vde=VdeSwitchRef(name="lab")),
        Nic(2, NetMode.VDE, "52:54:00:00:00:03", vde=VdeSwitchRef(ctl=Path("/run/a,b.ctl"))),
        Nic(3, NetMode.TAP, "52:54:00:00:00:04", tap="tap0"),
        Nic(4, NetMode.BRIDGE, "52:54:00:00:00:05", bridge="br0", model="e1000"),
    )
    args = network_args(NetworkConfig(nics), vde, tmp_path / "run")
    netdevs = [args[i + 1] for i, a in enumerate(args) if a == "-netdev"]
    devices = [args[i + 1] for i, a in enumerate(args) if a == "-device"]
    assert netdevs == [
        "user,id=net0,hostfwd=tcp::2222-:22",
        f"vde,id=net1,sock={vde}/lab.ctl",
        "vde,id=net2,sock=/run/a,,b.ctl",
        "tap,id=net3,ifname=tap0,script=no,downscript=no",
        "bridge,id=net4,br=br0",
    ]
    assert devices[0] == "virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01"
    assert devices[4] == "e1000,netdev=net4,mac=52:54:00:00:00:05"
    # The argv names the switches it plugs into (CANCEL finds them there).
    assert vde_sockets_in_argv(args) == [vde / "lab.ctl", Path("/run/a,b.ctl")]


def test_network_args_none_and_from_args(tmp_path: Path) -> None:
    assert network_args(NetworkConfig(), tmp_path, tmp_path) == ["-nic", "none"]
    assert network_args(NetworkConfig(from_args=True), tmp_path, tmp_path) == []


def test_guest_agent_args(tmp_path: Path) -> None:
    args = network_args(NetworkConfig(guest_agent=True, from_args=True), tmp_path, tmp_path)
    assert f"socket,id=ctysqga,path={tmp_path}/qga.sock,server=on,wait=off" in args
    assert "virtserialport,bus=ctysvser.0,chardev=ctysqga,name=org.qemu.guest_agent.0" in args


def test_managed_switches_each_once() -> None:
    named = [
        Nic(i, NetMode.VDE, derive_mac("x", i), vde=VdeSwitchRef(name=n))
        for i, n in enumerate("bab")
    ]
    external = Nic(3, NetMode.VDE, derive_mac("x", 3), vde=VdeSwitchRef(ctl=Path("/x")))
    nics = (*named, external)
    assert NetworkConfig(nics).managed_switches() == ("b", "a")


# --- conf keys --------------------------------------------------------------------------


def test_default_is_one_user_mode_virtio_nic_with_uuid_mac(tmp_path: Path) -> None:
    net = net_of(tmp_path)
    assert net.nics == (Nic(0, NetMode.USER, derive_mac(UUID, 0)),)
    assert net.nics[0].model == "virtio-net-pci"


def test_default_mac_without_uuid_comes_from_conf_path(tmp_path: Path) -> None:
    net = net_of(tmp_path, uuid=False)
    assert net.nics[0].mac == derive_mac(str(tmp_path / "vm1" / "vm1.conf"), 0)


def test_mac_key_and_hostfwd(tmp_path: Path) -> None:
    net = net_of(tmp_path, "#@#MAC = 52:54:00:AA:BB:CC", "#@#HOSTFWD = tcp:127.0.0.1:2222-:22")
    [nic] = net.nics
    assert nic.mac == "52:54:00:aa:bb:cc"
    assert nic.hostfwd == (HostForward("tcp", "127.0.0.1", 2222, "", 22),)


def test_mode_follows_from_vdenet_and_ip_is_kept(tmp_path: Path) -> None:
    net = net_of(tmp_path, "#@#VDENET = lab", "#@#IP = 10.9.0.1")
    [nic] = net.nics
    assert (nic.mode, nic.vde, nic.ip) == (NetMode.VDE, VdeSwitchRef(name="lab"), "10.9.0.1")


def test_vdenet_path_is_an_external_switch(tmp_path: Path) -> None:
    [nic] = net_of(tmp_path, "#@#VDENET = sw/x.ctl").nics
    assert nic.vde == VdeSwitchRef(ctl=tmp_path / "vm1" / "sw" / "x.ctl")
    assert not nic.vde.managed


def test_several_nics_by_suffix(tmp_path: Path) -> None:
    net = net_of(
        tmp_path,
        "#@#HOSTFWD = :2222-:22",
        "#@#VDENET1 = lab",
        "#@#MAC1 = 02:00:00:00:00:01",
        "#@#IP1 = 10.9.0.7",
        "BRIDGE3=br1",
    )
    assert [(n.index, n.mode) for n in net.nics] == [
        (0, NetMode.USER),
        (1, NetMode.VDE),
        (3, NetMode.BRIDGE),
    ]
    assert net.nics[1].mac == "02:00:00:00:00:01"
    assert net.nics[1].ip == "10.9.0.7"
    assert net.nics[2].bridge == "br1"
    assert net.nics[2].mac == derive_mac(UUID, 3)
    assert net.managed_switches() == ("lab",)


def test_key_wins_over_variable(tmp_path: Path) -> None:
    [nic] = net_of(tmp_path, "VDENET=fromvar", "#@#VDENET = fromkey").nics
    assert nic.vde == VdeSwitchRef(name="fromkey")


def test_netmode_none_means_no_nic(tmp_path: Path) -> None:
    assert net_of(tmp_path, "#@#NETMODE = none").nics == ()


def test_args_with_own_network_get_no_ctys_nic(tmp_path: Path) -> None:
    net = net_of(tmp_path, "#@#MAC = 52:54:00:00:00:09", "ARGS='-nic user,model=virtio-net-pci'")
    assert net.from_args and net.nics == ()
    # An explicit network key means the conf wants ctys's NIC as well.
    both = net_of(tmp_path, "#@#NETMODE = user", "ARGS='-nic user'")
    assert len(both.nics) == 1 and not both.from_args


def test_guest_agent_key(tmp_path: Path) -> None:
    assert net_of(tmp_path, "#@#GUESTAGENT = yes").guest_agent
    assert not net_of(tmp_path, "#@#GUESTAGENT = off").guest_agent


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("#@#MAC = 52:54:00:zz:00:00", r"vm1.conf:4: #@#MAC: not a MAC address"),
        ("#@#NETMODE = slirp", r"vm1.conf:4: #@#NETMODE: unknown mode 'slirp'"),
        ("#@#NETMODE = vde", r"vm1.conf:4: #@#NETMODE: NETMODE vde needs VDENET"),
        ("#@#NETMODE = tap", r"#@#NETMODE: NETMODE tap needs TAP"),
        ("#@#VDENET = bad name!", r"vm1.conf:4: #@#VDENET: not a VDE network name"),
        ("#@#HOSTFWD = 22", r"vm1.conf:4: #@#HOSTFWD: not a port forward"),
        ("#@#GUESTAGENT = maybe", r"#@#GUESTAGENT: not yes/no"),
        ("HOSTFWD1=:1-:2\n#@#NETMODE1 = vde", r"vm1.conf:4: HOSTFWD1: only for NETMODE user"),
    ],
)
def test_bad_values_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfError, match=message):
        net_of(tmp_path, line)


# --- argv ---------------------------------------------------------------------------------


def _argv(tmp_path: Path, *lines: str, argsadd: tuple[str, ...] = ()) -> list[str]:
    vm = load_vm_config(conf(tmp_path, *lines))
    rundir = VmRuntimeDir(tmp_path / "rt" / "vms" / "vm1-0000")
    spec = LaunchSpec(
        vm=vm, binary="qemu", accelerator=Accelerator.TCG, rundir=rundir, argsadd=argsadd
    )
    return build_argv(spec)


def test_build_argv_default_virtio_user_nic(tmp_path: Path) -> None:
    argv = _argv(tmp_path)
    assert argv[argv.index("-netdev") + 1] == "user,id=net0"
    assert argv[argv.index("-device") + 1] == f"virtio-net-pci,netdev=net0,mac={derive_mac(UUID)}"


def test_build_argv_vde_switch_under_runtime_dir(tmp_path: Path) -> None:
    argv = _argv(tmp_path, "#@#VDENET = lab")
    assert argv[argv.index("-netdev") + 1] == f"vde,id=net0,sock={tmp_path}/rt/vde/lab.ctl"


def test_build_argv_argsadd_network_replaces_default(tmp_path: Path) -> None:
    argv = _argv(tmp_path, argsadd=("-nic", "none"))
    assert "-netdev" not in argv
    assert argv.count("-nic") == 1
