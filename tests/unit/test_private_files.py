"""Files ctys creates are the user's alone, whatever the umask: the inventory (and SQLite's
-wal/-shm/-journal files beside it) 0600, the folder ctys creates for it 0700, the install
note 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import Inventory
from ctys.plugins.qemu.boot.instmode import parse_install, write_install_note
from ctys.privfile import create_private_file, write_private_text


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: without care, files come out 0644
    try:
        yield
    finally:
        os.umask(old)


def test_new_inventory_its_wal_files_and_its_new_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "ctys" / "inventory.sqlite"
    with Inventory.open(path) as inventory:
        inventory.replace_scan("h1", [Path("/vms")], [InventoryRecord(host="h1", label="a")])
        # While it is open, SQLite keeps its WAL and shared-memory files beside it.
        beside = sorted(p.name for p in path.parent.iterdir())
        assert beside == ["inventory.sqlite", "inventory.sqlite-shm", "inventory.sqlite-wal"]
        for name in beside:
            assert mode(path.parent / name) == 0o600, name
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700  # the folder ctys made for it
    assert mode(path.parent.parent) == 0o755  # its parents are not ctys' to close
    with Inventory.open(path) as again:  # reopening keeps it working (and private)
        assert again.count() == 1
    assert mode(path) == 0o600


def test_rollback_journal_is_private_too(tmp_path: Path) -> None:
    path = tmp_path / "inv.sqlite"
    Inventory.open(path).close()
    # SQLite gives every file beside the database the database's mode; show it for the
    # rollback journal (journal_mode=DELETE, kept with PERSIST) as well.
    script = (
        "import sqlite3, sys\n"
        "db = sqlite3.connect(sys.argv[1])\n"
        "db.execute('PRAGMA journal_mode=PERSIST')\n"
        "db.execute('CREATE TABLE t(x)'); db.commit(); db.close()\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    journal = tmp_path / "inv.sqlite-journal"
    assert journal.exists() and mode(journal) == 0o600


def test_existing_inventory_folder_and_file_keep_their_modes(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    path = shared / "inventory.sqlite"
    Inventory.open(path).close()
    path.chmod(0o644)  # e.g. an inventory shared read-only on purpose
    Inventory.open(path).close()
    assert mode(shared) == 0o755 and mode(path) == 0o644


def test_install_note_is_private(tmp_path: Path) -> None:
    spec = parse_install(["CD", "/i.iso", "HDD", "", "post"], "I")
    write_install_note(tmp_path, spec, Path("/t.qcow2"))
    assert mode(tmp_path / "instmode.json") == 0o600


def test_private_file_helpers(tmp_path: Path) -> None:
    made = tmp_path / "a"
    assert create_private_file(made) is True
    assert create_private_file(made) is False  # there already: left as it is
    assert mode(made) == 0o600
    text = tmp_path / "t.json"
    text.write_text("old")
    text.chmod(0o644)
    write_private_text(text, "new")
    assert text.read_text() == "new" and mode(text) == 0o600
