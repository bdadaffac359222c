"""The suboption table entry of ``Plugin.suboptions`` (``ctys.plugins.base``): a module of
its own, so shell completion reads the cached tables without importing the plugin base."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ValueKind(Enum):
    """What follows a suboption key's ``:`` (how the shell completes it)."""

    NONE = "none"  # a flag: the key alone (CONNECT, FORCE)
    CHOICE = "choice"  # one of ``SuboptionSpec.choices`` (then more ``%`` arguments may follow)
    LABEL = "label"  # a VM label (the inventory's labels)
    PATH = "path"  # a file or folder
    TEXT = "text"  # anything else


@dataclass(frozen=True)
class SuboptionSpec:
    """One suboption key of an action: a one-line help and what its value is."""

    help: str
    kind: ValueKind = ValueKind.NONE
    choices: tuple[str, ...] = ()
