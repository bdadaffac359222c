"""GETCLIENTPORT=<label>|<id>[,...]: the port a client (VNC viewer) attaches to, in the
original's form ``CLIENTPORT(QEMU,<host>,<arg>)=<port>``: the TCP VNC port of each running
VM the argument names (several separated by a space), ``NO-CPORT`` when none has one (a
VM with ctys' private VNC socket has no port). Exit status 0 either way, as the
original's."""

from __future__ import annotations

from collections.abc import Sequence

from ctys.invocation import ActionCall
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.list import VmEntry

NO_PORT = "NO-CPORT"
USAGE = "GETCLIENTPORT=<label>|<id>"


def client_ports(entries: Sequence[VmEntry], words: Sequence[str]) -> list[int]:
    """The TCP VNC ports of the entries ``words`` name, in LIST's order."""
    from ctys.plugins.qemu.actions.listrecord import vnc_ports
    from ctys.plugins.qemu.actions.sessionmatch import matches

    ports = [vnc_ports(e.vnc)[1] for e in entries if matches(e, words)]
    return [port for port in ports if port is not None]


def answer_line(host: str, arg: str, ports: Sequence[int]) -> str:
    """``CLIENTPORT(QEMU,<host>,<arg>)=<port>[ <port>...]`` or ``=NO-CPORT``."""
    shown = " ".join(str(p) for p in ports) or NO_PORT
    return f"CLIENTPORT(QEMU,{host},{arg})={shown}"


def run_getclientport(call: ActionCall, ctx: RunContext) -> int:
    """Print the answer line; 0."""
    from ctys.inventory.settings import this_host
    from ctys.plugins.qemu.actions.sessionmatch import helper_argument, running_entries
    from ctys.textescape import printable

    arg, words = helper_argument(call, USAGE)
    ports = client_ports(running_entries(ctx), words)
    print(printable(answer_line(this_host(), arg, ports)), file=ctx.out)
    return 0
