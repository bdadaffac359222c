"""The remote ENUMERATE merge's row path: JSON rows stored as record values, many hosts a
transaction (``record_values`` → ``Inventory.replace_scans``), stores exactly what the
record path (records → ``replace_scan``, one host a transaction) stores."""

from __future__ import annotations

import sqlite3
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctys.errors import CtysError
from ctys.inventory.record import FIELDS, InventoryRecord
from ctys.inventory.store import HostScan, Inventory
from ctys.remote.merge import record_values
from support.killed import kill_9_at_midway

ROOT = [Path("/srv/vms")]


def reference_record(host: str | None, row: Mapping[str, object]) -> InventoryRecord:
    """What a JSON row means, written out plainly: a field's value as text, null and a
    missing key empty, other keys ignored, HOST the target's name when given."""
    values = {n.lower(): "" if v is None else str(v) for n, v in row.items() if n in FIELDS}
    if host is not None:
        values["host"] = host
    return InventoryRecord(**values)


json_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(["", ";", "a;b", "\n", "é", "52:54:00:AA:bb:01"]),
)
json_row = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), st.sampled_from(["PID", "label", "", "X"])),
    json_value,
    max_size=12,
)


@settings(max_examples=300)
@given(st.lists(json_row, max_size=5), st.sampled_from([None, "admin@far"]))
def test_record_values_are_the_values_of_the_rows_records(
    rows: list[dict[str, object]], host: str | None
) -> None:
    assert record_values(host, rows) == [reference_record(host, row).values() for row in rows]


def stored(path: Path) -> list[tuple[object, ...]]:
    """Every row as stored: id, the 50 columns and the enum.fdb line."""
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT * FROM records ORDER BY id").fetchall()
    finally:
        db.close()


def host_answer(host: int, vms: int, extra: Mapping[str, object]) -> list[dict[str, object]]:
    return [
        {
            "HOST": "the-remote-name",
            "LABEL": f"vm{host}-{vm}",
            "PNAME": f"/srv/vms/vm{vm}.conf",
            "UUID": f"{host:08x}-0000-4000-8000-{vm:012x}",
            "MAC": f"52:54:00:00:{host:02x}:{vm:02x}",
            "TCP": f"10.0.{host}.{vm}",
            "VCPU": vm,
            "USERSTRING": None,
            **extra,
        }
        for vm in range(vms)
    ]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(json_row, max_size=4), st.integers(min_value=1, max_value=7))
def test_the_row_path_stores_what_the_record_path_stores(
    tmp_path_factory: pytest.TempPathFactory, extra_rows: list[dict[str, object]], batch: int
) -> None:
    base = tmp_path_factory.mktemp("paths")
    answers = {f"h{i}": host_answer(i, 3, {"OS": "Linux", "DIST": i}) for i in range(4)}
    # Rows of any shape under the root (a duplicate row key is upserted, later row wins).
    answers["h1"] += [{**row, "PNAME": f"/srv/vms/x{i}.conf"} for i, row in enumerate(extra_rows)]
    old = [InventoryRecord(host=h, label="old", pname="/srv/vms/old.conf") for h in answers]
    outside = InventoryRecord(host="h2", label="kept", pname="/elsewhere/k.conf")
    paths = {name: base / f"{name}.sqlite" for name in ("records", "values")}
    for path in paths.values():
        with Inventory.open(path) as inv:
            inv.add([*old, outside])
    with Inventory.open(paths["records"]) as inv:
        for host, rows in answers.items():
            inv.replace_scan(host, ROOT, [reference_record(host, row) for row in rows])
    with Inventory.open(paths["values"]) as inv:
        scans = [HostScan(h, ROOT, record_values(h, rows)) for h, rows in answers.items()]
        assert inv.replace_scans(scans, batch_rows=batch) == sum(map(len, answers.values()))
    assert stored(paths["values"]) == stored(paths["records"])
    assert any(row[3] == "kept" for row in stored(paths["values"]))


def test_replace_scans_commits_many_hosts_a_transaction(tmp_path: Path) -> None:
    path = tmp_path / "inv.sqlite"
    scans = [
        HostScan(f"h{i}", ROOT, record_values(f"h{i}", host_answer(i, 2, {}))) for i in range(5)
    ]
    with Inventory.open(path) as inv:
        commits: list[str] = []
        inv._db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        assert inv.replace_scans(scans, batch_rows=4) == 10
        # 2 + 2 rows, 2 + 2, then the last host: a host's rows are never split.
        assert len(commits) == 3
        assert inv.hosts() == [f"h{i}" for i in range(5)]


def test_replace_scans_refuses_a_row_of_another_host_and_keeps_that_batch(
    tmp_path: Path,
) -> None:
    with Inventory.open(tmp_path / "inv.sqlite") as inv:
        inv.add([InventoryRecord(host="h1", label="old", pname="/srv/vms/old.conf")])
        wrong = record_values("h2", host_answer(2, 1, {}))
        with pytest.raises(ValueError, match="'h2' in a scan of 'h1'"):
            inv.replace_scans([HostScan("h1", ROOT, wrong)])
        short = [("h1", "QEMU")]
        with pytest.raises(CtysError, match=r"update failed.*bindings"):
            inv.replace_scans([HostScan("h1", ROOT, short)])
        assert [r.label for r in inv.all()] == ["old"]


_KILLED_MERGE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from ctys.inventory.store import HostScan, Inventory

    class Stalling(list):
        def __iter__(self):
            yield from super().__iter__()
            print("midway", flush=True)  # inside the second transaction, rows written
            time.sleep(60)

    def values(host, stall=False):
        rows = [(host, "QEMU", "new", f"/srv/vms/new{i}.conf", *[""] * 46) for i in range(3)]
        return Stalling(rows) if stall else rows

    scans = [HostScan(f"h{i}", [Path("/srv/vms")], values(f"h{i}", i == 3)) for i in range(4)]
    with Inventory.open(Path(sys.argv[1])) as inv:
        inv.replace_scans(scans, batch_rows=6)
    """
)


def test_kill_9_during_a_merge_keeps_whole_hosts(tmp_path: Path) -> None:
    path = tmp_path / "inv.sqlite"
    with Inventory.open(path) as inv:
        inv.add(
            InventoryRecord(host=f"h{i}", label="old", pname="/srv/vms/old.conf") for i in range(4)
        )

    def labels() -> dict[str, list[str]]:
        with Inventory.open(path) as reader:
            return {h: [r.label for r in reader.find(host=h)] for h in reader.hosts()}

    before_kill: dict[str, list[str]] = {}
    kill_9_at_midway(_KILLED_MERGE, [str(path)], lambda: before_kill.update(labels()))
    # h0 and h1 were committed together; h2 and h3 (the transaction under way) kept theirs.
    expected = {"h0": ["new"] * 3, "h1": ["new"] * 3, "h2": ["old"], "h3": ["old"]}
    assert before_kill == expected
    assert labels() == expected
    with Inventory.open(path) as inv:
        assert inv._db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
