"""The vocabulary of one ctys call: ``Invocation``, ``ActionCall``, ``Suboption``, ``Target``,
``OutputFormat``, ``CacheControl``, ``CacheWhere``, ``Location``, ``DebugSpec``.

``ctys.argscan`` builds these from argv; the core and the plugins never see raw argv
strings, only these objects. Core module: imports nothing of ctys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


@dataclass(frozen=True)
class Suboption:
    """One ``,``-separated suboption: ``KEY[:ARG1[%ARG2...]]``.

    ``key`` is upper-cased (``l:vm1`` -> ``L``); ``args`` keep their case and are the
    ``%``-separated values after the first ``:``. ``raw`` is the token as typed, for messages.
    """

    key: str
    args: tuple[str, ...]
    raw: str


@dataclass(frozen=True)
class ActionCall:
    """``-a NAME[=SUBOPTS]``: the upper-cased action name and its suboptions in order."""

    name: str
    suboptions: tuple[Suboption, ...] = ()


class CacheControl(Enum):
    """``-C``: how the name-service cache (inventory) is used."""

    ON = "on"
    OFF = "off"
    REBUILD = "rebuild"
    CLEAR = "clear"
    LIST = "list"


class CacheWhere(Enum):
    """``-c ON,<where>``: which cacheDB (inventory) resolves addresses. BOTH: the caller's
    and the execution target's; LOCAL: the caller's only (a remote target scans its
    folders); REMOTE: the execution target's only (the caller's is not asked, e.g. to
    place a CREATE)."""

    BOTH = "BOTH"
    LOCAL = "LOCAL"
    REMOTE = "REMOTE"


class Location(Enum):
    """``-L``: where the client (viewer, console) and the server (the VM) of a session run."""

    LOCALONLY = "LOCALONLY"  # client and server on the execution target (the default)
    CONNECTIONFORWARDING = "CONNECTIONFORWARDING"  # client here, server there, ssh tunnel
    DISPLAYFORWARDING = "DISPLAYFORWARDING"  # both there, the display forwarded (ssh -X)
    CLIENTONLY = "CLIENTONLY"  # the client alone
    SERVERONLY = "SERVERONLY"  # the server alone (headless: no viewer)


@dataclass(frozen=True)
class DebugSpec:
    """``-d <level>[,P|MIN|MAX][,S:<bits>][,W:<n>][,I:<n>][,F:<files>[,EXCLUDE|INCLUDE]]
    [,PFIN[:<n>]]``, the original's debug syntax; ``Invocation.debug`` is ``level``."""

    level: int = 0
    mode: str = "MAX"  # MAX | MIN | PATTERN
    subsystems: int | None = None
    warning: int | None = None
    info: int | None = None
    files: tuple[str, ...] = ()
    files_mode: str = "INCLUDE"
    printfinal: int | None = None


class OutputFormat(Enum):
    """How LIST/INFO/ENUMERATE print: a rich table, ``;``-separated terse lines, or JSON."""

    TABLE = "table"
    TERSE = "terse"
    JSON = "json"


@dataclass(frozen=True)
class Target:
    """A host to execute on: ``[user@]host['(' target-local options ')']``."""

    host: str
    user: str | None = None
    options: tuple[str, ...] = ()

    @property
    def is_local(self) -> bool:
        return self.host in ("localhost", "127.0.0.1", "") and self.user is None


@dataclass(frozen=True)
class Invocation:
    """Everything from one ctys command line, parsed."""

    plugin_types: tuple[str, ...] = ()  # empty: the registry's default plugin
    action: ActionCall | None = None
    help_level: int = 0  # 0: none, 1: -h (short), 2: -H (long)
    debug: int = 0
    cache_path: str | None = None  # -c
    cache_control: CacheControl = CacheControl.ON  # -C
    db_dir: str | None = None  # -p: the original's DB directory (enum.fdb, macmap.fdb)
    geometry: str | None = None  # -g WxH[+X+Y]
    resolution: str | None = None  # -r
    background: bool | None = None  # -b 1/0 (None: the action's default)
    parallel: bool | None = None  # -b ...,seq|par: targets one after another / at once
    pty: int | None = None  # -z: 0 none, 1 (PTY) ssh -t, 2 (PTY,PTY) ssh -t -t
    signals_ignore: tuple[str, ...] = ()  # -S
    remote_user: str | None = None  # -l
    output_fields: tuple[str, ...] = ()  # -o field list
    output_format: OutputFormat = OutputFormat.TABLE
    version: bool = False
    cache_where: CacheWhere = CacheWhere.BOTH  # -c ON,BOTH|LOCAL|REMOTE
    cache_only: bool = False  # -c ON,ONLY: addresses from the cacheDB alone, no scan
    debug_spec: DebugSpec | None = None  # -d beyond a bare level
    geometry_screen: tuple[str, ...] = ()  # -g WxH:<screen>[:<layout>[:<file>]]
    location: Location | None = None  # -L
    forward_agent: bool = False  # -Y: ssh -A
    display: str | None = None  # -D :N[.S]: the local X display for viewers
    message: str | None = None  # -M: printed before the output
    notes: tuple[str, ...] = ()  # options accepted but without effect here, one line each
    dry_run: bool = False  # -n: print what would run (argv, ssh calls), start nothing
    terse: bool = False  # -X: the original's terse/machine output (also with -V)
    allow_ambiguous: bool = False  # -A: an address matching several VMs acts on all of them
    targets: tuple[Target, ...] = field(default_factory=lambda: (Target("localhost"),))
