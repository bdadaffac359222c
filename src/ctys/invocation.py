"""The vocabulary of one ctys call: ``Invocation``, ``ActionCall``, ``Suboption``, ``Target``,
``OutputFormat``, ``CacheControl``.

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
    pty: int | None = None  # -z
    signals_ignore: tuple[str, ...] = ()  # -S
    remote_user: str | None = None  # -l
    output_fields: tuple[str, ...] = ()  # -o field list
    output_format: OutputFormat = OutputFormat.TABLE
    version: bool = False
    dry_run: bool = False  # -n: print what would run (argv, ssh calls), start nothing
    terse: bool = False  # -X: the original's terse/machine output (also with -V)
    allow_ambiguous: bool = False  # -A: an address matching several VMs acts on all of them
    targets: tuple[Target, ...] = field(default_factory=lambda: (Target("localhost"),))
