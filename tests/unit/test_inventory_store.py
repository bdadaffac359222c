"""inventory.store: the SQLite inventory — schema, scans, merge, lookups, crash safety."""

from __future__ import annotations

import dataclasses
import sqlite3
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctys.errors import CtysError
from ctys.inventory.record import FIELDS, InventoryRecord
from ctys.inventory.store import SCHEMA_VERSION, Inventory, default_inventory_path
from support.killed import kill_9_at_midway


def _vm(i: int, host: str = "h1", root: str = "/vms") -> InventoryRecord:
    return InventoryRecord(
        host=host,
        label=f"vm{i}",
        pname=f"{root}/vm{i}/vm{i}.conf",
        uuid=f"{i:08X}-AAAA-4000-8000-000000000000",
        mac=f"52:54:00:00:{i >> 8 & 255:02X}:{i & 255:02X}",
        tcp=f"10.0.{i >> 8 & 255}.{i & 255}",
    )


@pytest.fixture
def inv(tmp_path: Path) -> Iterator[Inventory]:
    with Inventory.open(tmp_path / "inv.sqlite") as inventory:
        yield inventory


def test_default_path_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CTYS_INVENTORY", str(tmp_path / "x.sqlite"))
    assert default_inventory_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("CTYS_INVENTORY")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_inventory_path() == tmp_path / "data" / "ctys" / "inventory.sqlite"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    expected = tmp_path / "home" / ".local" / "share" / "ctys" / "inventory.sqlite"
    assert default_inventory_path() == expected


def test_open_creates_folder_schema_wal_and_indexes(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "inv.sqlite"
    with Inventory.open(path) as inventory:
        assert inventory.count() == 0
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    for column in ("label", "uuid", "mac", "tcp", "pname"):
        assert f"records_{column}" in indexes
    # Lookups by host use the row key's unique index (host first; test_find_uses_the_indexes).
    assert "records_host" not in indexes
    db.close()
    with Inventory.open(path) as again:  # reopening an existing inventory works
        assert again.count() == 0


def test_not_an_inventory_is_an_error_naming_the_path(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(CtysError, match=f"{garbage}.*not a ctys inventory"):
        Inventory.open(garbage)
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(CtysError, match=f"{other}: not a ctys inventory"):
        Inventory.open(other)


def test_truncated_inventory_is_a_ctys_error(tmp_path: Path) -> None:
    path = tmp_path / "inv.sqlite"
    with Inventory.open(path) as inventory:
        inventory.add(_vm(i) for i in range(2000))
    data = path.read_bytes()
    path.write_bytes(data[:200] + b"\xff" * 5000)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    with pytest.raises(CtysError, match=str(path)), Inventory.open(path) as broken:
        broken.all()


def test_replace_scan_replaces_only_this_hosts_rows_under_the_roots(inv: Inventory) -> None:
    inv.add([_vm(1), _vm(2), _vm(3, root="/other"), _vm(1, host="h2"), _vm(9, root="/vmsx")])
    written = inv.replace_scan("h1", [Path("/vms")], [_vm(2), _vm(4)])
    assert written == 2
    rows = {(r.host, r.pname) for r in inv.all()}
    assert rows == {
        ("h1", "/vms/vm2/vm2.conf"),
        ("h1", "/vms/vm4/vm4.conf"),
        ("h1", "/other/vm3/vm3.conf"),  # not under the scanned root
        ("h2", "/vms/vm1/vm1.conf"),  # another host's view of the same VM
        ("h1", "/vmsx/vm9/vm9.conf"),  # /vmsx is not under /vms
    }


def test_replace_scan_with_root_slash_and_a_file_root(inv: Inventory) -> None:
    inv.add([_vm(1), _vm(2, root="/a")])
    inv.replace_scan("h1", [Path("/vms/vm1/vm1.conf")], [])
    assert [r.label for r in inv.all()] == ["vm2"]
    inv.replace_scan("h1", [Path("/")], [])
    assert inv.count() == 0


def test_multipath_one_vm_two_hosts_is_two_rows(inv: Inventory) -> None:
    inv.replace_scan("h1", [Path("/nfs")], [_vm(1, "h1", "/nfs")])
    inv.replace_scan("h2", [Path("/nfs")], [_vm(1, "h2", "/nfs")])
    rows = inv.find(label="vm1")
    assert [r.host for r in rows] == ["h1", "h2"]
    assert len({r.vm_id for r in rows}) == 1
    assert inv.hosts() == ["h1", "h2"]


def test_replace_scan_rejects_a_record_of_another_host_and_keeps_old_rows(
    inv: Inventory,
) -> None:
    inv.add([_vm(1)])
    with pytest.raises(ValueError, match="h2"):
        inv.replace_scan("h1", [Path("/vms")], [_vm(5), _vm(6, host="h2")])
    assert [r.label for r in inv.all()] == ["vm1"]


def test_exception_midway_through_the_scan_leaves_the_old_inventory(inv: Inventory) -> None:
    old = [_vm(i) for i in range(50)]
    inv.add(old)

    def scan() -> Iterator[InventoryRecord]:
        yield _vm(100)
        yield _vm(101)
        raise RuntimeError("disk vanished")

    with pytest.raises(RuntimeError):
        inv.replace_scan("h1", [Path("/vms")], scan())
    assert inv.all() == old


def test_ctrl_c_midway_leaves_the_old_inventory(inv: Inventory) -> None:
    inv.add([_vm(1)])

    def scan() -> Iterator[InventoryRecord]:
        yield _vm(2)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        inv.replace_scan("h1", [Path("/vms")], scan())
    assert [r.label for r in inv.all()] == ["vm1"]
    inv.add([_vm(3)])  # the connection is usable afterwards
    assert inv.count() == 2


_KILLED_SCAN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ctys.inventory.record import FIELDS, InventoryRecord
    from ctys.inventory.store import Inventory

    def scan():
        for i in range(500):
            yield InventoryRecord(host="h1", label=f"new{i}", pname=f"/vms/new{i}.conf")
        print("midway", flush=True)
        time.sleep(60)

    with Inventory.open(Path(sys.argv[1])) as inv:
        inv.replace_scan("h1", [Path("/vms")], scan())
    """
)


def test_kill_9_during_a_scan_leaves_the_old_inventory_intact(tmp_path: Path) -> None:
    path = tmp_path / "inv.sqlite"
    old = [_vm(i) for i in range(200)]
    with Inventory.open(path) as inventory:
        inventory.add(old)

    def still_there() -> None:
        # The old rows are already deleted inside the open transaction; readers still see them.
        with Inventory.open(path) as reader:
            assert reader.count() == 200

    kill_9_at_midway(_KILLED_SCAN, [str(path)], still_there)
    with Inventory.open(path) as inventory:
        assert inventory.all() == old
        inventory.replace_scan("h1", [Path("/vms")], [_vm(7)])  # and it is writable again
        assert inventory.count() == 1


def test_add_upserts_by_host_pname_and_address_keeping_position(inv: Inventory) -> None:
    inv.add([_vm(1), _vm(2)])
    changed = dataclasses.replace(_vm(1), label="renamed")
    assert inv.add([changed]) == 1
    assert [r.label for r in inv.all()] == ["renamed", "vm2"]
    assert inv.count() == 2


def test_a_multihomed_vm_is_one_row_per_address(inv: Inventory) -> None:
    second = dataclasses.replace(_vm(1), mac="52:54:00:00:01:99", tcp="10.1.0.1")
    inv.add([_vm(1), second])
    assert inv.all() == [_vm(1), second]


@pytest.mark.parametrize(
    ("kwargs", "labels"),
    [
        ({"label": "vm2"}, ["vm2"]),
        ({"L": "vm2"}, ["vm2"]),
        ({"uuid": "00000002-aaaa-4000-8000-000000000000"}, ["vm2"]),
        ({"mac": "52:54:00:00:00:0a"}, ["vm10"]),
        ({"tcp": "10.0.0.3"}, ["vm3"]),
        ({"pname": "/vms/vm4/vm4.conf"}, ["vm4"]),
        ({"host": "h1", "label": "vm5"}, ["vm5"]),
        ({"host": "h2", "label": "vm5"}, []),
        ({"label": "VM2"}, []),  # labels are case-sensitive
        ({"label": "vm"}, []),  # exact, not substring
    ],
)
def test_find_exact_with_caseless_mac_and_uuid(
    inv: Inventory, kwargs: dict[str, str], labels: list[str]
) -> None:
    inv.add(_vm(i) for i in range(1, 20))
    assert [r.label for r in inv.find(**kwargs)] == labels


def test_find_uses_the_indexes(inv: Inventory, tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "inv.sqlite")
    for column, collate in [
        ("label", ""),
        ("uuid", " COLLATE NOCASE"),
        ("mac", " COLLATE NOCASE"),
        ("tcp", ""),
        ("pname", ""),
        ("host", ""),
    ]:
        plan = db.execute(
            f"EXPLAIN QUERY PLAN SELECT * FROM records WHERE {column} = ?{collate}", ("x",)
        ).fetchall()
        assert "USING INDEX" in str(plan), (column, plan)
    db.close()


def test_clear_count_all(inv: Inventory) -> None:
    inv.add(_vm(i) for i in range(5))
    assert inv.count() == 5 and len(inv.all()) == 5
    inv.clear()
    assert inv.count() == 0 and inv.all() == [] and inv.hosts() == []


def test_lookup_time_in_100000_records(tmp_path: Path) -> None:
    """Measured, printed, not asserted (see the report). Run with -s to see it."""
    with Inventory.open(tmp_path / "big.sqlite") as inventory:
        start = time.perf_counter()
        inventory.replace_scan("h1", [Path("/vms")], (_vm(i) for i in range(100_000)))
        fill = time.perf_counter() - start
        timings = {}
        for key, value in [
            ("label", "vm77777"),
            ("uuid", "00012fd1-aaaa-4000-8000-000000000000"),
            ("mac", "52:54:00:00:2F:D1"),
            ("pname", "/vms/vm5/vm5.conf"),
        ]:
            start = time.perf_counter()
            for _ in range(100):
                found = inventory.find(**{key: value})
            timings[key] = (time.perf_counter() - start) / 100 * 1000
            assert found
    print(
        f"\nfill 100000: {fill:.2f}s; lookup ms: "
        + ", ".join(f"{k}={v:.3f}" for k, v in timings.items())
    )


_values = st.lists(st.text(max_size=20), min_size=len(FIELDS), max_size=len(FIELDS))


@settings(max_examples=60, deadline=None)
@given(st.lists(_values, max_size=4))
def test_store_keeps_arbitrary_strings_exactly(rows: list[list[str]]) -> None:
    records = []
    for number, values in enumerate(rows):
        values[FIELDS.index("PNAME")] = f"/p/{number}"  # (host, pname) is the row key
        records.append(InventoryRecord(*values))
    with tempfile.TemporaryDirectory() as tmp, Inventory.open(Path(tmp) / "i.sqlite") as inv:
        inv.add(records)
        assert inv.all() == records
        for record in records:
            assert record in inv.find(label=record.label, pname=record.pname)


def _schema_1_inventory(path: Path) -> None:
    """An inventory as ctys wrote it before the 47-field record (schema 1, 29 columns)."""
    columns = [
        "host",
        "stype",
        "label",
        "pname",
        "uuid",
        "mac",
        "tcp",
        "vncport",
        "sport",
        "dist",
        "distrel",
        "os",
        "osrel",
        "category",
        "hyperrel",
        "stackcap",
        "stackreq",
        "sshport",
        "ifname",
        "netmask",
        "gateway",
        "arch",
        "vcpu",
        "memsize",
        "accelerator",
        "exepath",
        "userstring",
        "mode",
        "scanned",
    ]
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        "CREATE TABLE records (id INTEGER PRIMARY KEY, "
        + ", ".join(f"{c} TEXT NOT NULL" for c in columns)
        + ", line TEXT NOT NULL, UNIQUE (host, pname))"
    )
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.execute("PRAGMA application_id = 1668577651")
    row = {c: "" for c in columns} | {
        "host": "h1", "label": "old", "pname": "/v/old.conf", "vncport": "5901",
        "memsize": "512", "mode": "ctys-conf",
    }  # fmt: skip
    db.execute(
        f"INSERT INTO records ({', '.join(columns)}, line) VALUES "
        f"({', '.join('?' * (len(columns) + 1))})",
        [*row.values(), "x"],
    )
    db.commit()
    db.close()


@pytest.mark.parametrize("readonly", [False, True])
def test_a_schema_1_inventory_is_upgraded_keeping_its_rows(tmp_path: Path, readonly: bool) -> None:
    path = tmp_path / "inv.sqlite"
    _schema_1_inventory(path)
    opener = Inventory.open_readonly if readonly else Inventory.open
    expected = InventoryRecord(
        host="h1", label="old", pname="/v/old.conf", vncport="5901", vram="512", mode="ctys-conf"
    )
    with opener(path) as inv:
        assert inv.all() == [expected]
        assert inv.find(label="old") == [expected]
    with Inventory.open(path) as inv:
        inv.add([_vm(1)])
        assert inv.count() == 2


def _as_schema_3(path: Path) -> None:
    """Today's file as schema 3 had it: one index more (on host alone), no folders table,
    version 3."""
    db = sqlite3.connect(path)
    db.execute("CREATE INDEX records_host ON records (host)")
    db.execute("DROP TABLE folders")
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.commit()
    db.close()


def _contents(
    path: Path, *, immutable: bool = False
) -> tuple[str, set[str], list[tuple[object, ...]], list[tuple[object, ...]]]:
    db = (
        sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        if immutable
        else sqlite3.connect(path)
    )
    try:
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        records = db.execute("SELECT * FROM records ORDER BY id").fetchall()
        files = db.execute("SELECT * FROM files ORDER BY host, path").fetchall()
    finally:
        db.close()
    return version, indexes, records, files


@pytest.mark.parametrize("readonly", [False, True])
def test_a_schema_3_inventory_is_upgraded_to_today_keeping_rows_and_files(
    tmp_path: Path, readonly: bool
) -> None:
    path = tmp_path / "inv.sqlite"
    with Inventory.open(path) as inventory:
        inventory.add([_vm(1), _vm(2, host="h2"), _vm(3)])
    db = sqlite3.connect(path)
    db.execute("INSERT INTO files VALUES ('h1', '/vms/vm1/vm1.conf', 1, 2, 3, 4, 5, 'conf',"
               " '', 'QEMU', '', '')")  # fmt: skip
    db.commit()
    db.close()
    _as_schema_3(path)
    _, old_indexes, records, files = _contents(path)
    assert "records_host" in old_indexes and files
    opener = Inventory.open_readonly if readonly else Inventory.open
    with opener(path) as inventory:  # a reader that may write upgrades it on the way
        assert inventory.find(host="h2") == [_vm(2, host="h2")]
    version, indexes, records_after, files_after = _contents(path)
    assert version == str(SCHEMA_VERSION)
    assert indexes == old_indexes - {"records_host"}
    assert (records_after, files_after) == (records, files)
    with Inventory.open(path) as inventory:  # and it is today's inventory
        inventory.replace_scan("h1", [Path("/vms")], [_vm(4)])
        assert [r.label for r in inventory.all()] == ["vm2", "vm4"]


def test_a_read_only_schema_3_inventory_is_queried_as_it_is(
    ctys_env: dict[str, str], readonly_fs: Path
) -> None:
    from tmpfs import remount_readonly

    path = readonly_fs / "inv.sqlite"
    with Inventory.open(path) as inventory:
        inventory.add([_vm(1), _vm(2, host="h2")])
    _as_schema_3(path)
    remount_readonly(readonly_fs)
    with Inventory.open_readonly(path) as inventory:
        assert inventory.find(host="h2") == [_vm(2, host="h2")]
        assert inventory.hosts() == ["h1", "h2"]
    assert _contents(path, immutable=True)[0] == "3"
