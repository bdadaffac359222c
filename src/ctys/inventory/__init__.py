"""The inventory (name-service cache): records, the SQLite store, the ASCII cacheDB
import/export and ``ctys-vhost`` queries. See docs/inventory.md."""

from ctys.inventory.cachedb import export_cachedb, import_cachedb
from ctys.inventory.query import (
    FieldPattern,
    MatchRule,
    NotUniqueError,
    Pattern,
    Query,
    WordPattern,
    parse_fields,
    parse_pattern,
    parse_query,
    parse_rule,
)
from ctys.inventory.record import (
    ALIASES,
    FIELDS,
    InventoryRecord,
    canonical_field,
    record_from_vm,
)
from ctys.inventory.store import Inventory, default_inventory_path

__all__ = [
    "ALIASES",
    "FIELDS",
    "FieldPattern",
    "Inventory",
    "InventoryRecord",
    "MatchRule",
    "NotUniqueError",
    "Pattern",
    "Query",
    "WordPattern",
    "canonical_field",
    "default_inventory_path",
    "export_cachedb",
    "import_cachedb",
    "parse_fields",
    "parse_pattern",
    "parse_query",
    "parse_rule",
    "record_from_vm",
]
