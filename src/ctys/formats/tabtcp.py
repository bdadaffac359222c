"""TAB_TCP[:<width>[%<width>...]] of the original's LIST (``GENERIC/LIST/tab_tcp.awk``):
a fixed-width table of where each VM runs and what it is.

Columns and default widths: ``TCP-container`` 18 (the host), ``TCP-guest`` 17 (the guest's
address when the TCP field is selected too, its MAC when TCP is empty or MAC is selected,
else ``-``), ``IF`` 8, ``label`` 17 (``id`` when the ID field is selected: the end of the
conf path), ``stype`` 9, ``accel`` 5, ``c`` 1 (S server, C client, T tunnel), ``user`` 10,
``group`` 10. The widths given replace them in the original's order: host, guest, label,
stype, accel, c, user, group; the 16th sets IF's. An empty field prints ``-``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from ctys.errors import UsageError
from ctys.textescape import printable

# (header, default width); the order of the printed columns.
_COLUMNS = (
    ("TCP-container", 18),
    ("TCP-guest", 17),
    ("IF", 8),
    ("label", 17),
    ("stype", 9),
    ("accel", 5),
    ("c", 1),
    ("user", 10),
    ("group", 10),
)
# Which printed column the n-th given width sets (the original's colsA indexes).
_WIDTH_INDEX = {1: 0, 2: 1, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 16: 2}
_C_COLUMN = 6  # right-aligned, as the original's "%1s"


class Guest(Enum):
    """What the TCP-guest column shows."""

    NONE = "none"
    TCP = "tcp"
    MAC = "mac"


@dataclass(frozen=True)
class TabTcp:
    """A parsed TAB_TCP: the nine column widths, the guest column and whether the label
    column shows the ID."""

    widths: tuple[int, ...] = tuple(w for _, w in _COLUMNS)
    guest: Guest = Guest.NONE
    show_id: bool = False


def parse_widths(args: Sequence[str]) -> tuple[int, ...]:
    """TAB_TCP's ``%``-separated widths (empty keeps the default); ``UsageError`` for
    anything but digits."""
    widths = [w for _, w in _COLUMNS]
    for index, arg in enumerate(args, 1):
        if arg == "":
            continue
        if not arg.isdigit() or not 0 < int(arg) <= 999:
            raise UsageError(f"TAB_TCP column sizes: '{arg}' is not a width (1-999)")
        if index in _WIDTH_INDEX:
            widths[_WIDTH_INDEX[index]] = int(arg)
    return tuple(widths)


def header_lines(spec: TabTcp) -> list[str]:
    """The header line and the dash line under it."""
    names = [name for name, _ in _COLUMNS]
    if spec.show_id:
        names[3] = "id"
    names = [name[:width] for name, width in zip(names, spec.widths, strict=True)]
    return [_line(names, spec), "+".join("-" * w for w in spec.widths)]


def row_cells(record: Mapping[str, object], spec: TabTcp) -> list[str]:
    """The nine cells of one LIST record (keyed by the 22 field names), cut to width."""
    w = spec.widths

    def cell(name: str, width: int) -> str:
        text = _text(record.get(name))
        return text[:width] if text else "-"

    tcp, mac = _text(record.get("TCP")), _text(record.get("MAC"))
    guest = {Guest.TCP: tcp or mac, Guest.MAC: mac, Guest.NONE: ""}[spec.guest]
    if spec.show_id:
        ident = _text(record.get("ID"))
        label = ident[-w[3] :] if ident else "-"
    else:
        label = cell("LABEL", w[3])
    site = _text(record.get("CSTYPE"))
    kind = next((k[0] for k in ("SERVER", "CLIENT", "TUNNEL") if k in site), "?")
    return [
        cell("PM", w[0]),
        guest[: w[1]] or "-",
        cell("IFNAME", w[2]),
        label,
        cell("TYPE", w[4]),
        cell("ACCELERATOR", w[5]),
        kind[: w[6]],
        cell("UID", w[7]),
        cell("GID", w[8]),
    ]


def row_line(record: Mapping[str, object], spec: TabTcp) -> str:
    """One record's table line."""
    return _line(row_cells(record, spec), spec)


def _line(cells: Sequence[str], spec: TabTcp) -> str:
    return "|".join(
        cell.rjust(width) if i == _C_COLUMN else cell.ljust(width)
        for i, (cell, width) in enumerate(zip(cells, spec.widths, strict=True))
    )


def _text(value: object) -> str:
    return "" if value is None else printable(str(value))
