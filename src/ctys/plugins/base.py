"""The interface between the ctys core (CLI, dispatch) and a hypervisor plugin.

The core knows nothing of QEMU: it scans the command line into an ``Invocation``, picks the
plugin named by ``-t`` and hands it the ``ActionCall``. The plugin turns the suboptions into
its own typed requests and runs the action. A new hypervisor is one more package that
registers a ``Plugin`` under the ``ctys.plugins`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, TextIO

from ctys.invocation import ActionCall, Invocation


@dataclass(frozen=True)
class RunContext:
    """What an action needs from the invocation besides its own suboptions."""

    invocation: Invocation
    out: TextIO
    err: TextIO

    @property
    def debug(self) -> int:
        return self.invocation.debug


class Plugin(Protocol):
    """A session type such as QEMU."""

    name: str

    def actions(self) -> Mapping[str, str]:
        """Action names this plugin supports, each with a one-line description."""
        ...

    def help(self, action: str | None) -> str:
        """Help text for the plugin, or for one of its actions."""
        ...

    def run(self, call: ActionCall, ctx: RunContext) -> int:
        """Run one action; return the exit status or raise ``CtysError``."""
        ...
