"""A private test LAN of network namespaces, for ssh test hosts that are separate machines
on the network too (``SshHosts.add(..., netns=True)``).

Layout (we are root): one namespace ``ctys<tag>lan`` holds a bridge ``br0``; every host
gets its own namespace ``ctys<tag>h<N>`` (``tag`` is ``<pid>x<count>``: the creating
process and its how-manieth LAN) whose ``eth0`` is one end of a veth pair, the
other end a port of that bridge; the test's side (the root namespace) gets one more veth
pair, ``ctys<tag>`` in the root namespace, its peer a bridge port.  All addresses are in
one private ``10.203.K.0/24`` (``K`` one that no root-namespace address uses): the test's
side is ``.1``, the hosts ``.2``, ``.3``, ...  Host-to-host traffic is switched by the
bridge inside the LAN namespace, so nothing in the root namespace (forwarding, firewall)
is touched.  ``close()`` removes every veth and namespace created, even after a partial
setup, and waits until the kernel has really dropped them; a new LAN first removes the
namespaces of LANs whose process is gone (a test run killed before its teardown).
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import re
import subprocess
import time

import psutil

GONE_TIMEOUT = 10.0
NAME = re.compile(r"ctys(\d+)x\d+(lan|h\d+)")  # the namespaces a NetLan makes
_counter = itertools.count()


def _ip(*args: str) -> None:
    """Run ``ip args...``; raise with its stderr on failure."""
    done = subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=20, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _out(*argv: str) -> str:
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=20, check=False,
        stdin=subprocess.DEVNULL,
    ).stdout  # fmt: skip


def netns_list() -> list[str]:
    """The names of the named network namespaces (``ip netns list``)."""
    return [line.split()[0] for line in _out("ip", "netns", "list").splitlines() if line]


def links() -> list[str]:
    """The root namespace's interface names (``ip -o link``)."""
    return re.findall(r"^\d+: ([^:@]+)", _out("ip", "-o", "link"), flags=re.MULTILINE)


def _free_subnet() -> int:
    """A third octet ``K`` such that no root-namespace address is in 10.203.K.0/24."""
    used = {
        ipaddress.ip_interface(a).ip
        for a in re.findall(r"inet (\S+)", _out("ip", "-4", "-o", "addr"))
    }
    for k in range(1, 255):
        net = ipaddress.ip_network(f"10.203.{k}.0/24")
        if not any(ip in net for ip in used):
            return k
    raise RuntimeError("no free 10.203.K.0/24")


def sweep_stale() -> list[str]:
    """Delete the namespaces of LANs whose creating process no longer runs (their
    veths go with them); return their names."""
    stale = []
    for name in netns_list():
        match = NAME.fullmatch(name)
        if match and not psutil.pid_exists(int(match[1])):
            with contextlib.suppress(RuntimeError):
                _ip("netns", "del", name)
                stale.append(name)
    return stale


class NetLan:
    """The LAN: ``host(name)`` gives a host its namespace and address."""

    def __init__(self) -> None:
        sweep_stale()
        self.tag = f"{os.getpid()}x{next(_counter)}"
        self.subnet = _free_subnet()
        self.lan = f"ctys{self.tag}lan"
        self.uplink = f"ctys{self.tag}"  # the test's side, in the root namespace
        self.namespaces: list[str] = []  # created, in order; close() deletes them
        self.veths: list[str] = []  # root-namespace veths created
        self.address = self._addr(1)
        try:
            self._netns(self.lan)
            _ip("-n", self.lan, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.lan, "link", "set", "br0", "up")
            self.veths.append(self.uplink)
            _ip("link", "add", self.uplink, "type", "veth", "peer", "name", "up0",
                "netns", self.lan)  # fmt: skip
            _ip("-n", self.lan, "link", "set", "up0", "master", "br0", "up")
            _ip("addr", "add", f"{self.address}/24", "dev", self.uplink)
            _ip("link", "set", self.uplink, "up")
        except BaseException:
            self.close()
            raise

    def _addr(self, n: int) -> str:
        return f"10.203.{self.subnet}.{n}"

    def _netns(self, name: str) -> None:
        self.namespaces.append(name)
        _ip("netns", "add", name)
        _ip("-n", name, "link", "set", "lo", "up")

    def host(self) -> tuple[str, str]:
        """A new host namespace on the LAN: ``(namespace name, its address)``."""
        n = len(self.namespaces)  # the LAN is namespaces[0]: hosts are .2, .3, ...
        name = f"ctys{self.tag}h{n}"
        self._netns(name)
        port = f"p{n}"
        _ip("-n", self.lan, "link", "add", port, "type", "veth", "peer", "name", "eth0",
            "netns", name)  # fmt: skip
        _ip("-n", self.lan, "link", "set", port, "master", "br0", "up")
        address = self._addr(n + 1)
        _ip("-n", name, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")
        return name, address

    @staticmethod
    def exec_argv(namespace: str) -> list[str]:
        """The argv prefix that runs a command inside ``namespace``."""
        return ["ip", "netns", "exec", namespace]

    def close(self) -> None:
        """Delete every veth and namespace created (the processes in them must be gone:
        a namespace with a live process outlives its name, and its veths with it) and
        wait until the kernel has dropped them."""
        for veth in self.veths:
            with contextlib.suppress(RuntimeError):
                _ip("link", "del", veth)
        for name in reversed(self.namespaces):
            with contextlib.suppress(RuntimeError):
                _ip("netns", "del", name)
        deadline = time.monotonic() + GONE_TIMEOUT
        # Namespace teardown is asynchronous in the kernel: the uplink veth goes later.
        while set(self.veths) & set(links()) and time.monotonic() < deadline:
            time.sleep(0.05)
