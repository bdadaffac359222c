"""Learn the IP address of a guest: for LIST's IP column and the ``IP:`` machine address.

In order: the conf's static ``#@#IP``; the QEMU guest agent (``#@#GUESTAGENT = yes`` and
an agent in the guest); the host's neighbour table (``ip -j neigh``) matched by the NICs'
MACs, which knows guests on a bridge/tap (or a VDE switch the host is plugged into) once
they have talked to the host. A user-mode guest has no address of its own outside QEMU
(slirp gives every guest 10.0.2.15): it is shown as ``user-mode`` with its port forwards.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ctys.address.model import normalize_mac
from ctys.errors import CtysError
from ctys.plugins.qemu.net.netconf import network_config_or_default
from ctys.plugins.qemu.net.network import NetMode, NetworkConfig, qga_socket
from ctys.plugins.qemu.vm.runtime import RuntimeDir
from ctys.plugins.qemu.vmconfig import VmConfig

# Neighbour states that carry no usable link-layer address.
_DEAD_STATES = frozenset({"FAILED", "INCOMPLETE", "NOARP"})


class IpSource(Enum):
    """Where a guest's address came from."""

    CONF = "conf"
    AGENT = "agent"
    NEIGHBOUR = "neighbour"
    USER_MODE = "user-mode"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class GuestIp:
    """A guest's address (``None`` when not known) and where it came from; ``note`` says
    what to show instead (user-mode: ``user-mode 127.0.0.1:2222->22/tcp``)."""

    address: str | None
    source: IpSource
    note: str = ""

    def shown(self) -> str | None:
        """The text for LIST's IP column."""
        return self.address or self.note or None


@dataclass(frozen=True)
class Neighbour:
    """One row of the host's neighbour (ARP/NDP) table."""

    ip: str
    mac: str
    dev: str
    state: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgentInterface:
    """One guest interface as the guest agent reports it."""

    name: str
    mac: str | None
    addresses: tuple[tuple[str, int | None], ...]  # (address, prefix)


def _is_ipv4(address: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(address), ipaddress.IPv4Address)
    except ValueError:
        return False


def _best(addresses: Iterable[str]) -> str | None:
    """IPv4 first, then a global IPv6; never loopback or link-local."""
    usable: list[str] = []
    for text in addresses:
        try:
            addr = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError:
            continue
        if addr.is_loopback or addr.is_link_local or addr.is_unspecified:
            continue
        usable.append(str(addr))
    usable.sort(key=lambda a: 0 if _is_ipv4(a) else 1)
    return usable[0] if usable else None


# --- neighbour table -------------------------------------------------------------------


def parse_neigh_json(text: str) -> list[Neighbour]:
    """Rows of ``ip -j neigh show`` that carry a MAC (``lladdr``)."""
    try:
        rows = json.loads(text or "[]")
    except ValueError:
        return []
    found: list[Neighbour] = []
    if not isinstance(rows, list):
        return found
    for row in rows:
        if not isinstance(row, dict):
            continue
        ip, mac = row.get("dst"), row.get("lladdr")
        if not isinstance(ip, str) or not isinstance(mac, str):
            continue
        state = row.get("state") or []
        states = tuple(str(s) for s in state) if isinstance(state, list) else (str(state),)
        found.append(Neighbour(ip, normalize_mac(mac), str(row.get("dev", "")), states))
    return found


Runner = Callable[[list[str]], str]


def _run_ip(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=3.0, check=False)
    return done.stdout if done.returncode == 0 else ""


def read_neighbours(runner: Runner = _run_ip) -> list[Neighbour]:
    """The host's neighbour table; empty when ``ip`` is missing or fails."""
    try:
        return parse_neigh_json(runner(["ip", "-j", "neigh", "show"]))
    except (OSError, subprocess.SubprocessError):
        return []


def ip_from_neighbours(macs: Iterable[str], neighbours: Sequence[Neighbour]) -> str | None:
    """The best address the neighbour table holds for any of ``macs``."""
    wanted = {normalize_mac(m) for m in macs}
    live = [n.ip for n in neighbours if n.mac in wanted and not _DEAD_STATES.intersection(n.state)]
    return _best(live)


# --- QEMU guest agent ------------------------------------------------------------------


def parse_agent_interfaces(reply: object) -> list[AgentInterface]:
    """The ``return`` of ``guest-network-get-interfaces`` as typed interfaces (entries of
    the wrong shape are skipped: the guest is not trusted)."""
    interfaces: list[AgentInterface] = []
    if not isinstance(reply, list):
        return interfaces
    for item in reply:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        mac = item.get("hardware-address")
        addresses: list[tuple[str, int | None]] = []
        for entry in item.get("ip-addresses") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("ip-address"), str):
                continue
            prefix = entry.get("prefix")
            addresses.append((entry["ip-address"], prefix if isinstance(prefix, int) else None))
        interfaces.append(
            AgentInterface(
                item["name"], normalize_mac(mac) if isinstance(mac, str) else None, tuple(addresses)
            )
        )
    return interfaces


def ip_from_agent(interfaces: Sequence[AgentInterface], macs: Iterable[str]) -> str | None:
    """The best address of the guest interface that has one of ``macs``."""
    wanted = {normalize_mac(m) for m in macs}
    for interface in interfaces:
        if interface.mac in wanted:
            best = _best(a for a, _ in interface.addresses)
            if best:
                return best
    return None


def query_agent(sock_path: Path, command: str, *, timeout: float = 1.0) -> object:
    """Run one guest agent ``command`` over its socket and return its ``return`` value.
    The agent answers only when it runs in the guest: ``guest-sync`` first, so a stale
    reply of an earlier client is skipped. ``CtysError`` when it does not answer."""
    deadline = time.monotonic() + timeout
    token = int(time.time() * 1000) % 2_000_000_000
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(sock_path))
            lines = _JsonLines(sock, deadline)
            _send(sock, {"execute": "guest-sync", "arguments": {"id": token}})
            while lines.next().get("return") != token:
                pass
            _send(sock, {"execute": command})
            reply = lines.next()
    except (OSError, ValueError) as exc:
        raise CtysError(f"guest agent at {sock_path} did not answer: {exc}") from exc
    if "error" in reply:
        raise CtysError(f"guest agent: {command}: {reply['error']}")
    return reply.get("return")


def _send(sock: socket.socket, message: dict[str, object]) -> None:
    sock.sendall(json.dumps(message).encode() + b"\n")


class _JsonLines:
    """JSON objects from a socket, one per line, until a deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buffer = b""

    def next(self) -> dict[str, object]:
        while True:
            line, sep, rest = self.buffer.partition(b"\n")
            if sep:
                self.buffer = rest
                text = line.strip().lstrip(b"\xff")  # 0xFF: guest-sync-delimited sentinel
                if not text:
                    continue
                value = json.loads(text)
                if isinstance(value, dict):
                    return value
                continue
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timed out")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buffer += chunk


def agent_ip(sock_path: Path, macs: Iterable[str], *, timeout: float = 1.0) -> str | None:
    """The guest's address as its agent reports it; ``None`` without an answering agent."""
    if not sock_path.exists():
        return None
    try:
        reply = query_agent(sock_path, "guest-network-get-interfaces", timeout=timeout)
    except CtysError:
        return None
    return ip_from_agent(parse_agent_interfaces(reply), macs)


# --- the answer for one VM -------------------------------------------------------------


def _user_mode_note(net: NetworkConfig) -> str:
    forwards = [str(f) for nic in net.nics if nic.mode is NetMode.USER for f in nic.hostfwd]
    return " ".join(["user-mode", *forwards])


def guest_ip(
    vm: VmConfig,
    vm_rundir: Path | None = None,
    *,
    net: NetworkConfig | None = None,
    neighbours: Sequence[Neighbour] | None = None,
    agent_timeout: float = 1.0,
    read_table: Callable[[], Sequence[Neighbour]] = read_neighbours,
) -> GuestIp:
    """Where to reach ``vm``'s guest. ``vm_rundir``: the running VM's runtime folder (for
    its guest agent socket); ``neighbours``: a neighbour table read once for many VMs;
    else ``read_table`` reads it, only when a NIC can be found in it (a caller asking for
    many VMs passes a cached reader, so the table is read at most once)."""
    if vm.ip:
        return GuestIp(vm.ip.split("/", 1)[0], IpSource.CONF)
    net = net or network_config_or_default(vm)
    # Only NICs on a real L2 network have an address worth showing: behind user-mode
    # every guest is 10.0.2.15.
    bridged = [n.mac for n in net.nics if n.mode in (NetMode.VDE, NetMode.TAP, NetMode.BRIDGE)]
    if bridged and net.guest_agent and vm_rundir is not None:
        found = agent_ip(qga_socket(vm_rundir), bridged, timeout=agent_timeout)
        if found:
            return GuestIp(found, IpSource.AGENT)
    if bridged:
        table = neighbours if neighbours is not None else read_table()
        found = ip_from_neighbours(bridged, table)
        if found:
            return GuestIp(found, IpSource.NEIGHBOUR)
    if net.nics and all(n.mode is NetMode.USER for n in net.nics):
        return GuestIp(None, IpSource.USER_MODE, _user_mode_note(net))
    return GuestIp(None, IpSource.UNKNOWN)


def running_vms_with_ip(
    ip: str,
    runtime: RuntimeDir,
    *,
    loader: Callable[[Path], VmConfig],
    neighbours: Sequence[Neighbour] | None = None,
) -> list[Path]:
    """Conf files of the running managed VMs whose learned address is ``ip`` (for the
    ``IP:`` machine address when no conf has it as a static ``#@#IP``). ``loader`` reads a
    conf (``confs.mapping.load_vm_config``, a layer above this one)."""
    from ctys.plugins.qemu.vm.runtime import EntryState, scan_runtime

    table = neighbours
    found: list[Path] = []
    for entry in scan_runtime(runtime):
        record, vmdir = entry.record, entry.rundir
        if entry.state is not EntryState.RUNNING or record is None or not record.conf:
            continue
        with contextlib.suppress(CtysError, OSError):
            vm = loader(Path(record.conf))
            if table is None:
                table = read_neighbours()
            if guest_ip(vm, vmdir.path, neighbours=table).address == ip:
                found.append(vm.conf_path)
    return found
