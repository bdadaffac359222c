"""The fields of an inventory record: the original ctys' MACHINE record (one ``enum.fdb``
line, ``ctys-vhost``'s record) in its order, then the few fields ctys keeps beyond it.

This table (built from the plain rows of ``ctys.inventory.fieldnames``) is the one place
that says which fields there are, their order, the names and aliases the original accepts
for them (ENUMERATE suboptions, ``ctys-vhost -o``), their 1-based position in the original
record and the conf key that fills them. The
record (``ctys.inventory.record``), the MACHINE output, ``ctys-vhost -o`` and the
``enum.fdb`` import/export all use it.

Facts from the original (release 01.11): ctys(1) "Output Record-Format for MACHINE
suboption" lists fields 1-43; the sources (``plugins/GENERIC/ENUMERATE``, ``C_ENUMNF=47``)
add 44-47. Release 01.10 wrote 43 fields (``C_ENUMNF=43``): a 43-field line has fields
1-43 at the same positions and no 44-47.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ctys.errors import UsageError
from ctys.inventory.fieldnames import (
    ALIASES,
    FIELD_ROWS,
    FIELDS,
    FULL_WIDTH,
    MACHINE_FIELDS,
    TITLES,
)

__all__ = [
    "ALIASES",
    "FIELDS",
    "FIELD_TABLE",
    "FULL_WIDTH",
    "MACHINE_FIELDS",
    "SHORT_WIDTH",
    "WIDTHS",
    "FieldSpec",
    "canonical_field",
    "field_at",
    "field_spec",
    "in_record_order",
    "is_field_name",
    "title_of",
]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field. ``name``: the canonical name (upper case; the record attribute is
    ``name.lower()``). ``position``: 1-based in the original record, ``None`` for a field
    of ctys' own. ``aliases``: the other names the original (or ctys) accepts.
    ``conf_key``: the ``#@#KEY`` of a conf that holds the value, if one does.
    ``about``: a short description (ctys(1)). ``title``: the name the original's TITLE
    line gives the field (ENUMERATE's ``canonize.awk``; ctys' own fields: ``name``)."""

    name: str
    position: int | None
    aliases: tuple[str, ...]
    conf_key: str | None
    about: str
    title: str

    @property
    def attr(self) -> str:
        """The ``InventoryRecord`` attribute of this field."""
        return self.name.lower()

    @property
    def original(self) -> bool:
        """Whether the field is one of the original's record."""
        return self.position is not None


def _f(
    position: int | None, name: str, aliases: str, conf_key: str | None, about: str
) -> FieldSpec:
    title = TITLES[position - 1] if position is not None else name
    return FieldSpec(name, position, tuple(aliases.split()), conf_key, about, title)


FIELD_TABLE: tuple[FieldSpec, ...] = tuple(_f(*row) for row in FIELD_ROWS)
"""Every field of a record, in record order: the original's 47, then ctys' own
(``ctys.inventory.fieldnames.FIELD_ROWS``)."""

SHORT_WIDTH = 43  # release 01.10: fields 1-43 only
WIDTHS = (SHORT_WIDTH, FULL_WIDTH)

_BY_NAME: Mapping[str, FieldSpec] = {spec.name: spec for spec in FIELD_TABLE}
_BY_POSITION: Mapping[int, FieldSpec] = {
    spec.position: spec for spec in FIELD_TABLE if spec.position is not None
}


def canonical_field(name: str) -> str:
    """The field name for ``name`` (any case, or an alias); ``UsageError`` if unknown."""
    return field_spec(name).name


def field_spec(name: str) -> FieldSpec:
    """The field ``name`` (any case, or an alias) names; ``UsageError`` if unknown."""
    upper = name.strip().upper()
    spec = _BY_NAME.get(upper) or _BY_NAME.get(ALIASES.get(upper, ""))
    if spec is None:
        raise UsageError(
            f"unknown field '{name}' (known: {', '.join(FIELDS)}, or an alias such as L, U, "
            "M, T, P, H, CPORT)"
        )
    return spec


def is_field_name(name: str) -> bool:
    """Whether ``name`` is a field name or alias (any case)."""
    upper = name.upper()
    return upper in _BY_NAME or upper in ALIASES


def in_record_order(names: Iterable[str]) -> tuple[str, ...]:
    """The fields ``names`` name (names or aliases, repeats counted once) in record order,
    as the original prints a selection of fields whatever order it was given in."""
    chosen = {canonical_field(name) for name in names}
    return tuple(name for name in FIELDS if name in chosen)


def title_of(name: str, *, indexed: bool = False) -> str:
    """The original's TITLE name of field ``name``; ``indexed``: with its position, as
    TITLEIDX prints it (``Label(3)``)."""
    spec = field_spec(name)
    if indexed and spec.position is not None:
        return f"{spec.title}({spec.position})"
    return spec.title


def field_at(position: int) -> FieldSpec:
    """The field at 1-based ``position`` of the original record (``F:<n>:...``);
    ``UsageError`` outside 1..47."""
    try:
        return _BY_POSITION[position]
    except KeyError:
        raise UsageError(f"no field {position} (the record has fields 1 to {FULL_WIDTH})") from None
