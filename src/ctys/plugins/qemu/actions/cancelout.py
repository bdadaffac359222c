"""How CANCEL reports: one line per VM (``label: what happened``), or under ``-X`` /
``MACHINE`` the original's block per VM (``POWEROFF-SERVER Session:`` with its ID, LABEL,
PID, SPORT and, for a power-off, DELAY and FLAG) and one ``CANCEL-CLIENT`` line per closed
client. Labels and paths come from confs: they are escaped for the terminal."""

from __future__ import annotations

from dataclasses import dataclass

from ctys.plugins.qemu.cancelreq import CancelMode, CancelRequest
from ctys.textescape import printable

_RULE = "-" * 28


@dataclass(frozen=True)
class Reported:
    """One VM's outcome as the block names it."""

    label: str
    conf: str
    pid: int
    sport: str
    message: str


def block(req: CancelRequest, vm: Reported) -> list[str]:
    """The original's block for one VM, line by line (its text, then an empty line, a
    rule, a blank)."""
    lines = [
        "",
        _RULE,
        f"{req.mode.value}-SERVER Session:",
        f"   ID    ={printable(vm.conf)}",
        f"   LABEL ={printable(vm.label)}",
        f"   PID   ={vm.pid}",
        f"   SPORT ={printable(vm.sport)}",
    ]
    if req.mode is CancelMode.POWEROFF:
        lines += [f"   DELAY ={req.stop_timeout:g}", f"   FLAG  ={'FORCE' if req.force else ''}"]
    lines += [_RULE, f"{printable(vm.label)}: {vm.message}", "", _RULE, ""]
    return lines


def client_line(label: str, pid: int) -> str:
    """The original's line for one closed client."""
    name = printable(label)
    return f'CANCEL-CLIENT Session:"{name}":PID={pid}   ID    ={name}   PID   ={pid}'
