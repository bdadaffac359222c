"""What a plugin's merged, placed and forwarded actions answer the core (``ctys.plugins.base``
names the interfaces): a target's JSON rows (``TargetRows``), a host's load (``HostLoad``),
a session's server for a client run here (``ClientEndpoint``), the lean entry point that
answers a merged action's target words (``RowsEntry``). Apart from ``base`` so a
command line that needs none of them does not build their classes."""

from __future__ import annotations

from dataclasses import dataclass

from ctys.invocation import ActionCall, Target


@dataclass(frozen=True)
class TargetRows:
    """One target's answer to a merged action: the JSON rows it printed."""

    target: Target
    name: str  # the target as the user named it (``user@host``), the HOST of its rows
    call: ActionCall  # the action as this target ran it (target-local options applied)
    rows: list[dict[str, object]]


@dataclass(frozen=True)
class HostLoad:
    """How busy a host is: 1-minute load average, CPU count, running VMs."""

    load1: float
    ncpu: int
    running_vms: int

    @property
    def per_cpu(self) -> float:
        return self.load1 / max(1, self.ncpu)

    def line(self) -> str:
        """The load answer: ``load1;ncpu;running_vms``."""
        return f"{self.load1:.2f};{self.ncpu};{self.running_vms}"


@dataclass(frozen=True)
class ClientEndpoint:
    """Where a session's server listens on its host, for a client run elsewhere (-L CF)."""

    label: str
    address: str  # a VNC server ("unix:/path", "host:port") or a serial console socket path
    serial: bool = False  # a serial console (this terminal attaches) rather than VNC


@dataclass(frozen=True)
class RowsEntry:
    """A plugin's lean entry point that answers a merged action's target words alone,
    without ctys's command line: its console script (found beside the remote ``ctys``)
    and its module (``python -m``, for a local target)."""

    script: str
    module: str
