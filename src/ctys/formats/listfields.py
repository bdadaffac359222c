"""The fields of the original's LIST record (``GENERIC/LIST``, ``C_LIST_NF=22``) in its
order, with the names and aliases its LIST suboptions take and the names its TITLE line
gives them (``canonize.awk``). Any plugin's LIST fills these 22 fields for a running VM.

``ALL`` and ``MAXKEY`` are the original's fixed selections; ``IP`` and ``DNS`` modify the
TCP field; both are handled by the LIST request, not here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ctys.errors import UsageError
from ctys.formats.titles import Title, titled


@dataclass(frozen=True, slots=True)
class ListField:
    """One field of the LIST record: 1-based ``position``, canonical ``name``, the other
    names the original's suboptions take, and its TITLE name."""

    position: int
    name: str
    aliases: tuple[str, ...]
    title: str


def _f(position: int, name: str, aliases: str, title: str) -> ListField:
    return ListField(position, name, tuple(aliases.split()), title)


LIST_TABLE: tuple[ListField, ...] = (
    _f(1, "PM", "HOST", "ContainingMachine"),
    _f(2, "TYPE", "ST STYPE", "SessionType"),
    _f(3, "LABEL", "", "Label"),
    _f(4, "ID", "PATHNAME PNAME P", "ID"),
    _f(5, "UUID", "", "UUID"),
    _f(6, "MAC", "", "MAC"),
    _f(7, "TCP", "", "TCP"),
    _f(8, "DISPLAY", "", "DISPLAY"),
    _f(9, "CPORT", "", "ClientAccessPort"),
    _f(10, "SPORT", "", "ServerAccessPort"),
    _f(11, "PID", "", "PID"),
    _f(12, "UID", "USER", "UID"),
    _f(13, "GID", "GROUP", "GUID"),
    _f(14, "CSTYPE", "SITE", "C/S-Type"),
    _f(15, "JOBID", "JID", "JobID"),
    _f(16, "IFNAME", "IF", "IFNAME"),
    _f(17, "RESERVED", "", "RESERVED1"),
    _f(18, "CONTEXTSTRG", "CSTRG", "CONTEXTSTRG"),
    _f(19, "EXECPATH", "EXEPATH EXEP", "EXECPATH"),
    _f(20, "HYPERRELRUN", "HRELRUN HRELX HRX", "HYPERRELRUN"),
    _f(21, "ACCELERATOR", "ACCEL", "ACCELERATOR"),
    _f(22, "ARCH", "", "ARCH"),
)

LIST_RECORD: tuple[str, ...] = tuple(f.name for f in LIST_TABLE)
"""MACHINE's 22 fields in the original's order."""

# The original's fixed selections (list.sh): ALL leaves out UUID, MAC, TCP and the ports;
# MAXKEY is the record's key (it also forces TERSE).
ALL_SELECTION = (
    "PM", "TYPE", "LABEL", "ID", "PID", "UID", "GID", "CSTYPE", "JOBID", "IFNAME",
    "RESERVED", "CONTEXTSTRG", "EXECPATH", "HYPERRELRUN", "ACCELERATOR", "ARCH",
)  # fmt: skip
MAXKEY_SELECTION = ("PM", "TYPE", "LABEL", "ID", "UUID", "MAC")

_BY_NAME: Mapping[str, ListField] = {
    name: spec for spec in LIST_TABLE for name in (spec.name, *spec.aliases)
}


def list_field(name: str) -> ListField:
    """The LIST field ``name`` (any case, or an alias) names; ``UsageError`` if none."""
    spec = _BY_NAME.get(name.strip().upper())
    if spec is None:
        raise UsageError(f"unknown LIST field '{name}' (known: {', '.join(LIST_RECORD)})")
    return spec


def is_list_field(name: str) -> bool:
    """Whether ``name`` (any case) is a LIST field name or alias."""
    return name.strip().upper() in _BY_NAME


def in_list_order(names: Iterable[str]) -> tuple[str, ...]:
    """The fields ``names`` name, each once, in the record's order (as the original prints
    a selection whatever order it was given in)."""
    chosen = {list_field(name).name for name in names}
    return tuple(name for name in LIST_RECORD if name in chosen)


def list_title(names: Iterable[str], style: Title) -> str:
    """The original's header line of the fields ``names``: TITLE names, with positions
    for TITLEIDX, with column letters too for TITLEIDXASC."""
    specs = [list_field(name) for name in names]
    return ";".join(titled(s.title, s.position, style) for s in specs)
