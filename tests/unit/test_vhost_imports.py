"""``ctys-vhost`` imports only what a query needs (its start-up is most of its cost): here
the full path (a regex query); the fast path of exact terms (``L:x``) is pinned in
tests/unit/test_hot_imports.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import Inventory

_PROBE = """
import json, sys
from ctys.cli.vhost import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}), file=sys.stderr)
"""
# Never needed to answer a query printed to a pipe.
_FORBIDDEN = (
    "rich", "psutil", "qemu", "ctys.plugins", "ctys.cli.main", "ctys.argscan", "ctys.macros",
    "ctys.cli.vhostfiles", "ctys.inventory.dbdir", "ctys.inventory.enumfdb", "ctys.groups",
    "ctys.remote", "ctys.address", "asyncio", "subprocess",
)  # fmt: skip


def _modules_of(tmp_path: Path, *words: str) -> tuple[int, list[str], str]:
    db = tmp_path / "inv.sqlite"
    with Inventory.open(db) as inv:
        record = InventoryRecord(host="h1", label="vm1", pname="/srv/vm1/vm1.conf", uuid="u-1")
        inv.replace_scan("h1", [Path("/srv")], [record])
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, "--inventory", str(db), *words],
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    return report["status"], report["modules"], proc.stdout


def _forbidden(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in _FORBIDDEN or m.startswith(_FORBIDDEN)]


def test_label_query_imports_no_rich_psutil_or_plugins(tmp_path: Path) -> None:
    status, modules, out = _modules_of(tmp_path, "vm1")
    assert status == 0
    assert "vm1" in out and "h1" in out  # the default table, drawn without rich
    assert "ctys.inventory.store" in modules  # the probe sees the query's own imports
    assert "ctys.cli.vhostfull" in modules
    assert _forbidden(modules) == []


def test_terse_and_json_queries_import_no_rich(tmp_path: Path) -> None:
    for flag in ("-t", "-j"):
        status, modules, out = _modules_of(tmp_path, flag, "vm1")
        assert status == 0 and "vm1" in out
        assert _forbidden(modules) == []
