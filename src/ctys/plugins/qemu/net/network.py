"""Guest networking as typed values, and the qemu arguments for it (pure: no I/O).

A VM has zero or more NICs. Each NIC is attached to one backend (``NetMode``): QEMU's
user-mode stack (slirp, with optional host port forwards), a VDE switch, an existing tap
device, or a host bridge through ``qemu-bridge-helper``.
``ctys.plugins.qemu.net.netconf`` reads these from a conf file;
``ctys.plugins.qemu.net.vde`` runs the switches.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ctys.argscan import parse_target
from ctys.errors import UsageError
from ctys.invocation import Target
from ctys.plugins.qemu.net import vde_dir as vde_dir  # its home: the package, kept here too

DEFAULT_NIC_MODEL = "virtio-net-pci"
# QEMU's own prefix: locally administered (bit 1 of the first octet), unicast.
MAC_PREFIX = "52:54:00"
MAX_NICS = 8
QGA_PORT_NAME = "org.qemu.guest_agent.0"

_MAC = re.compile(r"[0-9a-fA-F]{2}([:-])[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}")
_SWITCH_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,39}")
_HOSTFWD = re.compile(
    r"(?:(?P<proto>tcp|udp):)?(?P<haddr>[0-9.]*):(?P<hport>\d{1,5})-(?P<gaddr>[0-9.]*):(?P<gport>\d{1,5})"
)
_NETWORK_OPTIONS = frozenset({"-net", "-netdev", "-nic", "--net", "--netdev", "--nic"})


class NetMode(Enum):
    """What a NIC is attached to on the host side."""

    USER = "user"  # QEMU's user-mode stack: outbound NAT, inbound only by HOSTFWD
    VDE = "vde"  # a VDE switch (vde_switch), shared by VMs on one named network
    TAP = "tap"  # an existing tap device (created by root for the user)
    BRIDGE = "bridge"  # a host bridge, joined through qemu-bridge-helper
    NONE = "none"  # no NIC at all


class NetworkError(ValueError):
    """A malformed network value; the conf reader turns it into a ``ConfError``."""


@dataclass(frozen=True)
class HostForward:
    """One user-mode port forward: ``host_addr:host_port`` on the host to the guest."""

    proto: str  # "tcp" or "udp"
    host_addr: str  # "" = every host address
    host_port: int
    guest_addr: str  # "" = the guest's DHCP address
    guest_port: int

    def qemu(self) -> str:
        """The ``hostfwd=`` value of ``-netdev user``."""
        return f"{self.proto}:{self.host_addr}:{self.host_port}-{self.guest_addr}:{self.guest_port}"

    def __str__(self) -> str:
        host = self.host_addr or "*"
        return f"{host}:{self.host_port}->{self.guest_port}/{self.proto}"


@dataclass(frozen=True)
class VdeSwitchRef:
    """The switch a VDE NIC plugs into: a ctys-managed one by ``name`` (started on demand
    under the runtime dir), or an existing one by its control directory ``ctl``. A managed
    switch with a ``peer`` (``VDENET = lab@hostB``) is also linked to the switch of the
    same name on that ssh host (``ctys.plugins.qemu.net.vdelink``)."""

    name: str | None = None
    ctl: Path | None = None
    peer: Target | None = None

    @property
    def managed(self) -> bool:
        return self.name is not None


@dataclass(frozen=True)
class Nic:
    """One guest network card and its host-side attachment."""

    index: int
    mode: NetMode
    mac: str
    model: str = DEFAULT_NIC_MODEL
    hostfwd: tuple[HostForward, ...] = ()  # USER only
    vde: VdeSwitchRef | None = None  # VDE only
    bridge: str | None = None  # BRIDGE only
    tap: str | None = None  # TAP only
    ip: str | None = None  # static guest address from the conf (for LIST), as written
    tftp: Path | None = None  # USER only: QEMU's built-in TFTP server serves this folder
    bootfile: str | None = None  # USER only: the PXE boot file offered by its DHCP

    @property
    def netdev_id(self) -> str:
        return f"net{self.index}"


@dataclass(frozen=True)
class NetworkConfig:
    """All NICs of a VM. ``nics`` empty: no network (``-nic none``), unless ``from_args``:
    the conf's own ARGS configure it and ctys adds nothing."""

    nics: tuple[Nic, ...] = ()
    guest_agent: bool = False  # add a virtio-serial port for the QEMU guest agent
    from_args: bool = False

    def managed_switches(self) -> tuple[str, ...]:
        """Names of the ctys-managed VDE switches these NICs need, each once."""
        names = [n.vde.name for n in self.nics if n.vde is not None and n.vde.name]
        return tuple(dict.fromkeys(names))

    def vde_links(self) -> tuple[tuple[str, Target], ...]:
        """``(switch name, peer host)`` of every cross-host link these NICs ask for, once."""
        links = [
            (n.vde.name, n.vde.peer)
            for n in self.nics
            if n.vde is not None and n.vde.name and n.vde.peer is not None
        ]
        return tuple(dict.fromkeys(links))


def normalize_mac(text: str) -> str:
    """``text`` as a lower-case ``aa:bb:cc:dd:ee:ff``; ``NetworkError`` when it is not a
    unicast MAC address (``:`` or ``-`` separated)."""
    value = text.strip()
    if not _MAC.fullmatch(value):
        raise NetworkError(f"not a MAC address (aa:bb:cc:dd:ee:ff): {text!r}")
    mac = value.replace("-", ":").lower()
    if int(mac[:2], 16) & 1:
        raise NetworkError(f"{mac} is a multicast address, a NIC needs a unicast one")
    return mac


def derive_mac(seed: str, index: int = 0) -> str:
    """A stable MAC for NIC ``index`` of the VM identified by ``seed`` (its UUID, else its
    conf path): ``52:54:00`` plus three bytes of a hash, so it never changes between boots."""
    import hashlib  # only a generated MAC needs it: LIST and CANCEL load this module

    digest = hashlib.sha256(f"{seed}#{index}".encode()).digest()
    return MAC_PREFIX + "".join(f":{b:02x}" for b in digest[:3])


def parse_hostfwd(text: str) -> HostForward:
    """One forward in QEMU's syntax ``[tcp|udp:][hostaddr]:hostport-[guestaddr]:guestport``
    (e.g. ``tcp:127.0.0.1:2222-:22``)."""
    match = _HOSTFWD.fullmatch(text.strip())
    if match is None:
        raise NetworkError(
            f"not a port forward ([tcp|udp:][hostaddr]:hostport-[guestaddr]:guestport): {text!r}"
        )
    hport, gport = int(match["hport"]), int(match["gport"])
    if not (1 <= hport <= 65535 and 1 <= gport <= 65535):
        raise NetworkError(f"port out of range 1..65535 in {text!r}")
    return HostForward(match["proto"] or "tcp", match["haddr"], hport, match["gaddr"], gport)


def parse_hostfwds(text: str) -> tuple[HostForward, ...]:
    """A list of forwards separated by blanks, commas or semicolons."""
    return tuple(parse_hostfwd(w) for w in re.split(r"[\s,;]+", text.strip()) if w)


def check_switch_name(name: str) -> str:
    """A managed switch's name becomes a file name: letters, digits, ``_ . -``, <= 40."""
    if not _SWITCH_NAME.fullmatch(name):
        raise NetworkError(
            f"not a VDE network name (letters, digits, '_', '.', '-'; or a path): {name!r}"
        )
    return name


def parse_vde_network(text: str) -> VdeSwitchRef:
    """A managed network by name: ``lab``, or ``lab@[user@]host`` for the switch ``lab``
    linked to the switch ``lab`` on the ssh host (the host as a ctys target, without
    target options)."""
    name, at, host = text.strip().partition("@")
    check_switch_name(name)
    if not at:
        return VdeSwitchRef(name=name)
    if not host or "(" in host or ")" in host:
        raise NetworkError(f"not a VDE link (NAME@[user@]host): {text!r}")
    try:
        peer = parse_target(host)
    except UsageError:
        raise NetworkError(f"bad host {host!r} in VDE link {text!r} (NAME@[user@]host)") from None
    if peer.is_local:
        raise NetworkError(f"a VDE link needs another host, not {host!r}: {text!r}")
    return VdeSwitchRef(name=name, peer=peer)


def switch_ctl(ref: VdeSwitchRef, vde_dir: Path) -> Path:
    """The control directory qemu connects to (``-netdev vde,sock=``)."""
    if ref.ctl is not None:
        return ref.ctl
    assert ref.name is not None
    return vde_dir / f"{ref.name}.ctl"


def has_network_args(args: Sequence[str]) -> bool:
    """Whether pass-through qemu ``args`` configure networking themselves."""
    return any(a in _NETWORK_OPTIONS for a in args)


def qga_socket(vm_rundir: Path) -> Path:
    """The guest agent's socket in a VM's runtime folder."""
    from ctys.plugins.qemu.vm.qga import QGA_SOCKET_NAME

    return vm_rundir / QGA_SOCKET_NAME


def _escape(value: str) -> str:
    return value.replace(",", ",,")


def _netdev(nic: Nic, vde_dir: Path) -> str:
    nid = nic.netdev_id
    if nic.mode is NetMode.USER:
        fwds = "".join(f",hostfwd={f.qemu()}" for f in nic.hostfwd)
        pxe = f",tftp={_escape(str(nic.tftp))}" if nic.tftp is not None else ""
        if nic.bootfile is not None:
            pxe += f",bootfile={_escape(nic.bootfile)}"
        return f"user,id={nid}{fwds}{pxe}"
    if nic.mode is NetMode.VDE:
        assert nic.vde is not None
        return f"vde,id={nid},sock={_escape(str(switch_ctl(nic.vde, vde_dir)))}"
    if nic.mode is NetMode.TAP:
        assert nic.tap is not None
        # No ifup scripts: the tap is set up by whoever created it.
        return f"tap,id={nid},ifname={_escape(nic.tap)},script=no,downscript=no"
    if nic.mode is NetMode.BRIDGE:
        assert nic.bridge is not None
        return f"bridge,id={nid},br={_escape(nic.bridge)}"
    raise AssertionError(f"no netdev for {nic.mode}")


def nic_args(nic: Nic, vde_dir: Path) -> list[str]:
    """``-netdev`` + ``-device`` for one NIC (its MAC set explicitly)."""
    device = f"{_escape(nic.model)},netdev={nic.netdev_id},mac={nic.mac}"
    return ["-netdev", _netdev(nic, vde_dir), "-device", device]


def guest_agent_args(vm_rundir: Path) -> list[str]:
    """A virtio-serial port for the QEMU guest agent, its host end a socket in the VM's
    runtime folder (``qga_socket``)."""
    sock = _escape(str(qga_socket(vm_rundir)))
    return [
        "-chardev",
        f"socket,id=ctysqga,path={sock},server=on,wait=off",
        "-device",
        "virtio-serial-pci,id=ctysvser",
        "-device",
        f"virtserialport,bus=ctysvser.0,chardev=ctysqga,name={QGA_PORT_NAME}",
    ]


def network_args(net: NetworkConfig, vde_dir: Path, vm_rundir: Path) -> list[str]:
    """Every qemu argument for ``net``: NICs (``-nic none`` for a VM without one, so qemu
    adds no default e1000), then the guest agent port."""
    args: list[str] = []
    if net.nics:
        for nic in net.nics:
            args += nic_args(nic, vde_dir)
    elif not net.from_args:
        args += ["-nic", "none"]
    if net.guest_agent:
        args += guest_agent_args(vm_rundir)
    return args


def vde_sockets_in_argv(argv: Sequence[str]) -> list[Path]:
    """The VDE control dirs a qemu command line plugs into (``-netdev vde,...,sock=P``)."""
    found: list[Path] = []
    for option, value in itertools.pairwise(argv):
        if option.lstrip("-") not in ("netdev", "net") or not value.startswith("vde"):
            continue
        # Split on single commas only (",," is an escaped comma inside a value).
        parts = re.split(r"(?<!,),(?!,)", value)
        for part in parts:
            if part.startswith("sock="):
                found.append(Path(part[len("sock=") :].replace(",,", ",")))
    return found
