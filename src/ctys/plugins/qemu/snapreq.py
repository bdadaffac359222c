"""SNAPSHOT's suboptions → a typed ``SnapshotRequest``::

    SNAPSHOT=<address>[,CREATE:NAME|LIST|APPLY:NAME|DELETE:NAME][,FORCE]
             [,TERSE|MACHINE|JSON][,TITLE]

LIST is the default. NAME is a qcow2 snapshot tag: letters, digits and ``_ . + @ -``
(no ``%``, ``,``, ``:``, blanks or control characters, which the suboption syntax or a
terminal would mangle), at most 64 characters, not all digits (qemu would take a number
for a snapshot's ID). FORCE lets DELETE:S4 drop a suspended VM's state."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from ctys.address.model import MachineSelector
from ctys.errors import UsageError
from ctys.invocation import ActionCall, OutputFormat
from ctys.plugins.qemu.requests import _no_args, _one_arg, _split_address
from ctys.tables import split_format_suboptions

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+@-]{0,63}")


class SnapOp(Enum):
    CREATE = "CREATE"
    LIST = "LIST"
    APPLY = "APPLY"
    DELETE = "DELETE"


@dataclass(frozen=True)
class SnapshotRequest:
    selector: MachineSelector
    op: SnapOp = SnapOp.LIST
    name: str | None = None  # CREATE/APPLY/DELETE: the tag
    force: bool = False
    fmt: OutputFormat = OutputFormat.TABLE
    title: bool = True


def check_name(name: str, token: str) -> str:
    """``name`` when it is a tag ctys takes; else a ``UsageError`` naming ``token``."""
    if _NAME.fullmatch(name) is None:
        raise UsageError(
            f"'{token}': a snapshot name is 1-64 letters, digits or _ . + @ - (not starting"
            " with . + @ -)"
        )
    if name.isdigit():
        raise UsageError(f"'{token}': a snapshot name must not be all digits (qemu reads an ID)")
    return name


def parse_snapshot(call: ActionCall, output_format: OutputFormat) -> SnapshotRequest:
    """SNAPSHOT suboptions → ``SnapshotRequest``; every error names its token."""
    fmt, title, subs = split_format_suboptions("SNAPSHOT", call.suboptions, output_format)
    selector, rest = _split_address(ActionCall(call.name, tuple(subs)))
    op: SnapOp | None = None
    name: str | None = None
    force = False
    for sub in rest:
        if sub.key == "FORCE":
            _no_args(sub)
            force = True
            continue
        if sub.key not in SnapOp.__members__:
            raise UsageError(f"unknown SNAPSHOT suboption '{sub.raw}'")
        if op is not None:
            raise UsageError(
                f"SNAPSHOT takes one of CREATE|LIST|APPLY|DELETE, not {op.value} and {sub.key}"
            )
        op = SnapOp(sub.key)
        if op is SnapOp.LIST:
            _no_args(sub)
        else:
            name = check_name(_one_arg(sub), sub.raw)
    if selector.empty:
        raise UsageError("SNAPSHOT needs a machine address (e.g. l:LABEL)")
    return SnapshotRequest(selector, op or SnapOp.LIST, name, force, fmt, title)
