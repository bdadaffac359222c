"""Rows of an older inventory schema as today's records.

Schema 1 (ctys before the original's 47-field record) had 29 columns of ctys' own order,
one row per (host, conf path); its column names are field names or aliases of today's
(``memsize`` is ``VRAM`` now), so a row maps by name. What schema 1 did not know is empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from ctys.inventory.fields import canonical_field, is_field_name
from ctys.inventory.record import InventoryRecord


def records_of_old_rows(
    columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> Iterator[InventoryRecord]:
    """The records of ``rows`` with the ``columns`` of an older ``records`` table (its
    ``id``, ``line`` and unknown columns are left out)."""
    attrs = [canonical_field(name).lower() if is_field_name(name) else None for name in columns]
    for row in rows:
        values = {a: str(v) for a, v in zip(attrs, row, strict=True) if a is not None}
        yield InventoryRecord(**values)
