"""The interface between the ctys core (CLI, dispatch) and a hypervisor plugin.

The core knows no hypervisor: it scans the command line into an ``Invocation``, picks the
plugin named by ``-t`` and hands it the ``ActionCall``. The plugin turns the suboptions into
its own typed requests and runs the action. A new hypervisor is one more package that
registers a ``Plugin`` under the ``ctys.plugins`` entry-point group.

Several targets: the core runs the action on each (``ctys.cli.dispatch``) and asks the plugin
how the answers come back. ``Plugin.merged(action)`` returns a ``MergedAction`` when each
target answers JSON rows that the plugin merges into one answer (e.g. LIST, ENUMERATE);
``None`` means plain lines, each prefixed ``host: ``. ``Plugin.placement(action)`` returns a
``Placement`` when the action, given no target, picks the host among those the inventory
names (e.g. CREATE): how to ask a host its load and whether the VM runs there.

VM confs: every plugin reads its own (``ConfReader``): the core scans folders, resolves
machine addresses and fills the inventory (``ctys.address``, ``ctys.inventory``) with the
plugins it is handed, asking each for the marker its confs carry (``magic_id``), for a
``FoundVm`` of a parsed conf (``describe``) and for the confs of running VMs whose guest
reported an address (``confs_with_learned_ip``).

Shell completion (``ctys.completion``): ``Plugin.suboptions(action)`` is the table of an
action's suboption keys, each a ``SuboptionSpec`` (one-line help, what its value is).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from ctys.invocation import ActionCall, Invocation, Target

if TYPE_CHECKING:  # the conf modules load when a plugin reads a conf, not with this one
    from ctys.conf.found import FoundVm
    from ctys.conf.parser import SourceLines
    from ctys.conf.rawconf import RawConf

    # The answers of merged, placed and forwarded actions (defined in answers, loaded when
    # an action has one; served from here too by __getattr__ below).
    from ctys.plugins.answers import ClientEndpoint as ClientEndpoint
    from ctys.plugins.answers import HostLoad as HostLoad
    from ctys.plugins.answers import RowsEntry as RowsEntry
    from ctys.plugins.answers import TargetRows as TargetRows

    # (defined in subopts, which completion imports alone; served from here for the plugins)
    from ctys.plugins.subopts import SuboptionSpec as SuboptionSpec
    from ctys.plugins.subopts import ValueKind as ValueKind

# Served by __getattr__ at their first use: their classes are not built with every command
# line (which needs RunContext alone); ``from ctys.plugins.base import HostLoad`` works.
_LAZY = {
    "ClientEndpoint": "ctys.plugins.answers",
    "HostLoad": "ctys.plugins.answers",
    "RowsEntry": "ctys.plugins.answers",
    "TargetRows": "ctys.plugins.answers",
    "SuboptionSpec": "ctys.plugins.subopts",
    "ValueKind": "ctys.plugins.subopts",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class RunContext:
    """What an action needs from the invocation besides its own suboptions."""

    invocation: Invocation
    out: TextIO
    err: TextIO

    @property
    def debug(self) -> int:
        return self.invocation.debug


class MergedAction(Protocol):
    """An action whose answers from several targets the plugin merges into one."""

    def target_options(
        self,
        call: ActionCall,
        target: Target,
        options: MutableMapping[str, str],
        *,
        clear_done: bool,
    ) -> None:
        """Turn the options one target runs (option letter -> value, ``"a"`` the action)
        into ones that make it print JSON rows (e.g. ``-a LIST=JSON -o ALL``).
        ``clear_done``: this process cleared what the action's ``-C clear`` clears."""
        ...

    def prepare(self, call: ActionCall, ctx: RunContext) -> None:
        """Check the request (``UsageError``) and do what comes before the fan-out."""
        ...

    def rows_entry(self, args: Sequence[str]) -> RowsEntry | None:
        """The lean entry that answers a target's ``args`` (the words ``target_options``
        made) as ``ctys`` would, ``None``: ``ctys`` itself runs them. A target without the
        entry (an older ctys: exit status 127) is asked again with ``ctys``."""
        ...

    def merge(self, call: ActionCall, answers: Sequence[TargetRows], ctx: RunContext) -> int:
        """Print the merged answer of the targets that answered; return the exit status."""
        ...


class Placement(Protocol):
    """How an action given no target is placed on the least loaded candidate host."""

    load_action: str  # the action a candidate host runs to print its load (e.g. INFO=LOAD)
    running_args: Sequence[str]  # the ctys arguments that print a host's running VMs as JSON
    attach_hint: str  # the end of the error for a VM that runs already (e.g. "use CONNECT")

    def parse_load(self, text: str) -> HostLoad:
        """A host's answer to ``load_action``; ``CtysError`` if it is not one."""
        ...

    def local_load(self) -> HostLoad:
        """The load of this host."""
        ...

    def pid_in_rows(self, rows: Sequence[Mapping[str, object]], uuid: str, conf: str) -> int | None:
        """The pid of the VM (``uuid`` or conf file ``conf``) among a host's running rows."""
        ...

    def local_pid(self, uuid: str, conf: str) -> int | None:
        """The pid of the VM if it runs on this host."""
        ...

    def attaches(self, call: ActionCall) -> bool:
        """Whether ``call`` attaches to a running VM (else a running one is refused)."""
        ...


class Forwarding(Protocol):
    """``-L CONNECTIONFORWARDING``: how the caller finds the server of the session an
    action starts or attaches on a remote target, to run its client here."""

    def query_args(self, call: ActionCall) -> Sequence[str]:
        """The ctys arguments (without ``-t``) that make the target print its running
        sessions as JSON rows."""
        ...

    def endpoint(self, call: ActionCall, rows: Sequence[Mapping[str, object]]) -> ClientEndpoint:
        """The server of the session ``call`` addresses among the target's rows;
        ``CtysError``/``UsageError`` when it cannot be told."""
        ...


class ConfReader(Protocol):
    """How a plugin reads its VM confs for the core (scan, addresses, inventory)."""

    name: str  # the session type: an entry's ``stype``, an inventory row's STYPE
    magic_id: str  # the marker its confs carry, ``MAGICID-<name>``
    vm_home: str  # where its VMs live by default: this folder under ``$HOME``

    def describe(self, raw: RawConf, lines: SourceLines | None) -> FoundVm:
        """The VM a parsed conf of this plugin describes; ``ConfError`` (file:line, from
        ``lines``) when the conf is broken."""
        ...

    def confs_with_learned_ip(self, ip: str) -> Sequence[Path]:
        """The conf files of this host's running VMs whose guest has the address ``ip``
        although their confs do not name it (an ``IP:`` address); ``CtysError`` when that
        cannot be found out."""
        ...


class Plugin(ConfReader, Protocol):
    """A session type: one hypervisor."""

    def actions(self) -> Mapping[str, str]:
        """Action names this plugin supports, each with a one-line description."""
        ...

    def help(self, action: str | None) -> str:
        """Help text for the plugin, or for one of its actions."""
        ...

    def suboptions(self, action: str) -> Mapping[str, SuboptionSpec]:
        """``action``'s suboption keys (upper case) with what each means; empty for an
        action that takes none or one the plugin does not know. Cheap: the shell's
        completion asks it (``ctys.completion``), nothing heavy may be imported."""
        ...

    def run(self, call: ActionCall, ctx: RunContext) -> int:
        """Run one action; return the exit status or raise ``CtysError``."""
        ...

    def merged(self, action: str) -> MergedAction | None:
        """How ``action``'s answers from several targets merge; ``None``: plain lines."""
        ...

    def placement(self, action: str) -> Placement | None:
        """How ``action`` given no target picks its host; ``None``: it runs here."""
        ...

    def attaches_terminal(self, call: ActionCall, *, background: bool) -> bool:
        """Whether ``call`` attaches the caller's terminal (a console): on a remote target
        it then runs on this terminal (``ssh -t``) when stdin is one."""
        ...

    def forwarding(self, action: str) -> Forwarding | None:
        """How ``action``'s client runs here with ``-L CF``; ``None``: it has no client
        (it runs as without ``-L CF``)."""
        ...
