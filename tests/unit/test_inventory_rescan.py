"""Incremental ENUMERATE (issue 15, point 1): a conf unchanged since the last scan keeps its
rows without being read; any edit sequence gives what a full fresh scan gives. Real files in
a temp folder, real SQLite stores; nothing boots qemu."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import shutil
import sqlite3
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ctys.address.rescan
from ctys.conf.vmstate import DEFAULT_FILTER, parse_matchvstat
from ctys.inventory import filecache
from ctys.inventory.record import InventoryRecord
from ctys.inventory.settings import InventoryChoice
from ctys.inventory.store import SCHEMA_VERSION, Inventory
from ctys.invocation import CacheControl
from ctys.plugins.qemu.actions.enumscan import Enumerated, enumerate_scan
from support.killed import kill_9_at_midway

SETTLE_NS = 20_000_000  # in these tests: a file 20 ms old has settled


def conf(label: str, uuid: int, *, extra: str = "") -> str:
    return (
        "#@#MAGICID-QEMU\n"
        f"#@#LABEL = {label}\n"
        f"#@#UUID = {uuid:08x}-aaaa-4000-8000-000000000000\n"
        f"#@#MAC = 52:54:00:00:00:{uuid & 255:02x}\n"
        "#@#ACCELERATOR = TCG\n"
        f"{extra}"
        "KERNEL=vmlinuz\n"
    )


def scan(db: Path | None, root: Path, **options: object) -> Enumerated:
    control = options.pop("control", CacheControl.ON)
    assert isinstance(control, CacheControl)
    states = options.pop("states", DEFAULT_FILTER)
    return enumerate_scan(
        InventoryChoice(db, control),
        [root],
        [root],
        states=states,
        **options,  # type: ignore[arg-type]
    )


def plain(records: list[InventoryRecord]) -> list[InventoryRecord]:
    """Records without their scan time (a kept row keeps the time it was read)."""
    return [dataclasses.replace(r, scanned="") for r in records]


def stored(db: Path) -> list[InventoryRecord]:
    with Inventory.open(db) as inv:
        return sorted(plain(inv.all()), key=lambda r: (r.pname, r.mac, r.tcp))


@pytest.fixture
def settled() -> Iterator[None]:
    with mock.patch.object(filecache, "SETTLE_NS", SETTLE_NS):
        yield


def wait_settled() -> None:
    time.sleep(SETTLE_NS / 1e9 * 1.5)


@pytest.fixture
def reads() -> Iterator[list[str]]:
    """The conf files a scan reads (``describe_file`` calls)."""
    seen: list[str] = []
    real = ctys.address.rescan.describe_file

    def counted(path: Path, *args: object) -> object:
        seen.append(path.name)
        return real(path, *args)  # type: ignore[arg-type]

    with mock.patch.object(ctys.address.rescan, "describe_file", counted):
        yield seen


def test_an_unchanged_settled_tree_is_not_read_again(
    tmp_path: Path, settled: None, reads: list[str]
) -> None:
    root = tmp_path / "vms"
    root.mkdir()
    for i in range(3):
        (root / f"vm{i}.conf").write_text(conf(f"vm{i}", i))
    (root / "net.conf").write_text("BRIDGE=br0\n")
    db = tmp_path / "inv.sqlite"
    wait_settled()
    first = scan(db, root)
    assert sorted(reads) == ["net.conf", "vm0.conf", "vm1.conf", "vm2.conf"]
    reads.clear()
    again = scan(db, root)
    assert reads == []  # nothing read: not the VMs, not the other conf
    assert again.records == first.records  # the kept rows, scan time included
    assert [r.label for r in again.records] == ["vm0", "vm1", "vm2"]
    (root / "vm1.conf").write_text(conf("vm1-new", 1))  # one edit: one read
    scan(db, root)
    assert reads == ["vm1.conf"]


def test_a_file_changed_just_before_the_scan_is_read_again_next_time(
    tmp_path: Path, settled: None, reads: list[str]
) -> None:
    """A same-size edit in the same clock tick as the scan's read could leave the key as it
    was: such a fresh file is not remembered."""
    root = tmp_path / "vms"
    root.mkdir()
    target = root / "vm.conf"
    target.write_text(conf("vmA", 1))
    db = tmp_path / "inv.sqlite"
    scan(db, root)
    info = target.stat()
    target.write_text(conf("vmB", 1))  # same size
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))  # and the same mtime
    assert [r.label for r in scan(db, root).records] == ["vmB"]
    assert reads == ["vm.conf", "vm.conf"]


@pytest.mark.parametrize("keep_mtime", [False, True])
def test_a_remembered_file_edited_to_the_same_size_is_read_again(
    tmp_path: Path, settled: None, reads: list[str], keep_mtime: bool
) -> None:
    """Size and inode stay; mtime moves (or, restored, ctime does)."""
    root = tmp_path / "vms"
    root.mkdir()
    target = root / "vm.conf"
    target.write_text(conf("vmA", 1))
    db = tmp_path / "inv.sqlite"
    wait_settled()
    scan(db, root)
    scan(db, root)
    assert reads == ["vm.conf"]  # remembered
    info = target.stat()
    target.write_text(conf("vmB", 1))
    if keep_mtime:
        os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert (target.stat().st_ino, target.stat().st_size) == (info.st_ino, info.st_size)
    assert [r.label for r in scan(db, root).records] == ["vmB"]
    assert [r.label for r in stored(db)] == ["vmB"]


def test_broken_confs_are_reported_by_every_scan(tmp_path: Path, settled: None) -> None:
    root = tmp_path / "vms"
    root.mkdir()
    (root / "bad.conf").write_text("#@#MAGICID-QEMU\nKERNEL=$(uname -r)\n")
    (root / "bin.conf").write_bytes(b"BRIDGE=\0\n")
    db = tmp_path / "inv.sqlite"
    wait_settled()
    first = scan(db, root)
    assert len(first.errors) == 2
    assert scan(db, root).errors == first.errors


def test_confs_whose_path_is_not_utf8_are_reported_not_stored(
    tmp_path: Path, settled: None
) -> None:
    """SQLite keeps text: a VM conf (or another conf) under a name with bytes that are not
    UTF-8 is an error line for ENUMERATE into the inventory, every scan, and the rest is
    stored; with the inventory off it is listed."""
    root = tmp_path / "vms"
    root.mkdir()
    odd = os.fsencode(root) + b"/vm\xff"
    os.mkdir(odd)
    with open(odd + b"/a\xfe.conf", "w") as file:
        file.write(conf("odd", 1))
    with open(os.fsencode(root) + b"/net\xfd.conf", "w") as file:
        file.write("BRIDGE=br0\n")
    (root / "good.conf").write_text(conf("good", 2))
    db = tmp_path / "inv.sqlite"
    wait_settled()
    for _ in range(2):  # the second scan sees the first one's tables
        found = scan(db, root)
        assert [r.label for r in found.records] == ["good"]
        assert len(found.errors) == 1
        assert found.errors[0].endswith("its path is not UTF-8, which the inventory cannot keep")
        assert found.errors[0].startswith(os.fsdecode(odd))
    assert [r.label for r in stored(db)] == ["good"]
    off = scan(None, root, control=CacheControl.OFF)
    assert sorted(r.label for r in off.records) == ["good", "odd"]
    assert off.errors == ()


def test_filters_that_change_between_scans_read_what_they_need(
    tmp_path: Path, settled: None
) -> None:
    """A VM the last scan did not list has no rows to keep: a scan that lists it reads it."""
    root = tmp_path / "vms"
    root.mkdir()
    (root / "a.conf").write_text(conf("a", 1, extra="#@#VMSTATE = TEMPLATE\n"))
    (root / "b.conf").write_text(conf("b", 2, extra="#@#MAGICID-IGNORE\n"))
    db = tmp_path / "inv.sqlite"
    wait_settled()
    assert scan(db, root).records == []
    every = parse_matchvstat(["ALL"])
    listed = scan(db, root, states=every, include_ignored=True)
    assert [r.label for r in listed.records] == ["a", "b"]
    assert [r.label for r in stored(db)] == ["a", "b"]
    assert scan(db, root).records == []
    assert stored(db) == []


def test_rebuild_reads_every_file(tmp_path: Path, settled: None, reads: list[str]) -> None:
    root = tmp_path / "vms"
    root.mkdir()
    (root / "a.conf").write_text(conf("a", 1))
    db = tmp_path / "inv.sqlite"
    wait_settled()
    scan(db, root)
    scan(db, root, control=CacheControl.REBUILD)
    assert reads == ["a.conf", "a.conf"]


# --- random edit sequences versus a fresh scan ------------------------------------------

NAMES = ("a.conf", "b.conf", "sub/d.conf", "sub/e.ctys", "sub/deep/f.conf", "other/g.conf")
OPS = st.sampled_from(
    (
        # The edits a stat check can miss are drawn more often.
        *("write", "same-size", "same-size-same-mtime") * 3,
        "write",  # a new VM conf (or replace one)
        "same-size",  # another label of the same length
        "same-size-same-mtime",  # and its old mtime restored
        "remove",
        "touch",
        "touch-old",
        "rename",
        "unreadable",
        "readable",
        "broken",
        "noise",
        "duplicate-uuid",
        "ignore",
        "noenum",
        "exec",  # a conf that runs a program of its choice (ENUMERATE warns)
        "symlink",  # to another name (maybe missing: a dangling link)
        "settle",  # time passes: what is there settles
    )
)
STEP = st.tuples(OPS, st.sampled_from(NAMES), st.sampled_from(NAMES), st.integers(0, 9))
# Edits of the folder a file is in (ctys.inventory.foldercache), among a few of files.
FOLDER_OPS = st.sampled_from(
    (
        *("rmtree", "rename-folder", "folder-symlink", "chmod-folder") * 2,
        "write",
        "remove",
        "rename",
        "symlink",
        "settle",
    )
)
FOLDER_STEP = st.tuples(
    FOLDER_OPS, st.sampled_from(NAMES), st.sampled_from(NAMES), st.integers(0, 9)
)


# The edits that write a file's content.
_WRITES = frozenset({"write", "broken", "noise", "duplicate-uuid", "ignore", "noenum", "exec"})


def apply(op: str, root: Path, name: str, other: str, n: int) -> None:
    path = root / name
    if op not in _FOLDER_OPS:
        _real_folder(root, path.parent)
        _real_folder(root, (root / other).parent)
    if op in _WRITES and path.is_symlink():
        path.unlink()  # an editor's write replaces a link (writing through one may fail)
    exists = path.is_file() and not path.is_symlink()
    if op == "write":
        path.write_text(conf(f"vm{n}", 10 + n))
    elif op in ("same-size", "same-size-same-mtime") and exists:
        info = path.stat()
        text = path.read_text(errors="replace")
        changed = text.replace("#@#LABEL = vm", f"#@#LABEL = w{n % 10}", 1)
        if len(changed) != len(text):
            changed = text[:-2] + ("x\n" if not text.endswith("x\n") else "y\n")
        path.write_text(changed)
        if op == "same-size-same-mtime":
            os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    elif op == "remove" and exists:
        path.unlink()
    elif op == "touch" and exists:
        path.touch()
    elif op == "touch-old" and exists:
        os.utime(path, (1_000_000_000, 1_000_000_000))
    elif op == "rename" and exists and name != other:
        path.rename(root / other)
    elif op == "unreadable" and exists:
        path.chmod(0)
    elif op == "readable" and exists:
        path.chmod(0o644)
    elif op == "broken":
        path.write_text("#@#MAGICID-QEMU\n#@#LABEL = bad\nKERNEL=`uname`\n")
    elif op == "noise":
        path.write_text(f"BRIDGE=br{n}\n")
    elif op == "duplicate-uuid":
        path.write_text(conf(f"dup{n}", 10))  # the UUID of "write" with n=0
    elif op == "ignore":
        path.write_text(conf(f"ign{n}", 10 + n, extra="#@#MAGICID-IGNORE\n"))
    elif op == "noenum":
        path.write_text(conf(f"hid{n}", 10 + n, extra="#@#MAGICID-NOENUM\n"))
    elif op == "exec":
        path.write_text(conf(f"exe{n}", 10 + n, extra="QEMUBIN=/opt/qemu/bin/qemu\n"))
    elif op == "symlink" and name != other:
        path.unlink(missing_ok=True)
        path.symlink_to(root / other)
    elif op == "settle":
        wait_settled()
    elif op in _FOLDER_OPS:
        _apply_to_folder(op, root, path.parent, (root / other).parent, n)


def _real_folder(root: Path, folder: Path) -> None:
    """``folder`` made a folder again where it (or one above it) is a symlink now."""
    for part in reversed((folder, *folder.parents)):
        if part.is_relative_to(root) and part != root and part.is_symlink():
            part.unlink()
    folder.mkdir(parents=True, exist_ok=True)


_FOLDER_OPS = frozenset({"rmtree", "rename-folder", "folder-symlink", "chmod-folder"})


def _apply_to_folder(op: str, root: Path, folder: Path, other: Path, n: int) -> None:
    if folder == root or folder.is_symlink() or not folder.is_dir():
        return
    if op == "rmtree":
        shutil.rmtree(folder)
    elif op == "rename-folder":
        target = other if other != root and not os.path.lexists(other) else root / f"moved{n}"
        if not os.path.lexists(target) and not str(target).startswith(f"{folder}/"):
            target.parent.mkdir(parents=True, exist_ok=True)
            folder.rename(target)
    elif op == "folder-symlink":
        shutil.rmtree(folder)
        folder.symlink_to(other)  # maybe dangling, maybe a loop: never followed
    elif op == "chmod-folder":
        folder.chmod(0o700 if n % 2 else 0o755)


def same_as_fresh(db: Path, root: Path, fresh_db: Path) -> None:
    incremental = scan(db, root)
    fresh = scan(fresh_db, root)  # a new store: every file read
    assert plain(incremental.records) == plain(fresh.records)
    assert incremental.errors == fresh.errors
    assert incremental.warnings == fresh.warnings
    assert incremental.exec_warnings == fresh.exec_warnings
    assert incremental.entries == fresh.entries
    assert stored(db) == stored(fresh_db)


def edits_agree(base: Path, steps: list[tuple[list[tuple[str, str, str, int]], bool]]) -> None:
    """Each step's edits under ``base``/vms, maybe time to settle, then both scans."""
    root = base / "vms"
    root.mkdir()
    db = base / "inv.sqlite"
    with mock.patch.object(filecache, "SETTLE_NS", SETTLE_NS):
        for i, (batch, settle) in enumerate(steps):
            for op, name, other, n in batch:
                apply(op, root, name, other, n)
            if settle:
                wait_settled()
            same_as_fresh(db, root, base / f"fresh-{i}.sqlite")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(st.lists(STEP, min_size=1, max_size=4), st.booleans()), min_size=1, max_size=8
    )
)
def test_incremental_rescans_equal_a_fresh_scan_after_any_edits(
    tmp_path_factory: pytest.TempPathFactory,
    steps: list[tuple[list[tuple[str, str, str, int]], bool]],
) -> None:
    """Each step: a few edits, maybe time for them to settle, then an incremental scan
    and a fresh one (into a new store) that must agree, rows in the store included."""
    edits_agree(tmp_path_factory.mktemp("rescan"), steps)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(st.lists(FOLDER_STEP, min_size=1, max_size=4), st.booleans()),
        min_size=1,
        max_size=6,
    )
)
def test_incremental_rescans_equal_a_fresh_scan_after_any_folder_edits(
    tmp_path_factory: pytest.TempPathFactory,
    steps: list[tuple[list[tuple[str, str, str, int]], bool]],
) -> None:
    """The same, with folders removed, renamed, turned into symlinks and chmodded between
    the scans (remembered folder listings must never hide a change)."""
    edits_agree(tmp_path_factory.mktemp("folders"), steps)


# --- the store: schema 3, upgrade, crash safety ------------------------------------------


def _as_older_schema(path: Path, version: str = "2") -> None:
    """The inventory at ``path`` as schema 2 left it (no files or folders table, an index on
    host), as schema 3 (no folders table, the host index) or as 4 (no folders table)."""
    db = sqlite3.connect(path)
    if version == "2":
        db.execute("DROP TABLE files")
    if version in ("2", "3"):
        db.execute("CREATE INDEX records_host ON records (host)")  # schema 2 and 3 had it
    db.execute("DROP TABLE folders")
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    db.commit()
    db.close()


@pytest.mark.parametrize("old", ["2", "3", "4"])
def test_an_older_inventory_is_upgraded_and_rescanned(
    tmp_path: Path, settled: None, old: str
) -> None:
    root = tmp_path / "vms"
    root.mkdir()
    (root / "a.conf").write_text(conf("a", 1))
    db = tmp_path / "inv.sqlite"
    wait_settled()
    first = scan(db, root)
    _as_older_schema(db, old)
    with Inventory.open_readonly(db) as inv:  # upgraded by its writer on the way
        assert plain(inv.all()) == plain(first.records)
    raw = sqlite3.connect(db)
    version = raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (str(SCHEMA_VERSION),)
    files = raw.execute("SELECT count(*) FROM files").fetchone()
    assert files == ((0,) if old == "2" else (1,))  # schema 3's and 4's files table is kept
    assert raw.execute("SELECT count(*) FROM folders").fetchone() == (0,)
    index = "SELECT name FROM sqlite_master WHERE name = 'records_host'"
    assert raw.execute(index).fetchall() == []  # each step to today's in one go
    raw.close()
    again = scan(db, root)
    assert plain(again.records) == plain(first.records)
    with Inventory.open(db) as inv:
        assert inv.count() == 1


@pytest.mark.parametrize("old", ["2", "3", "4"])
def test_a_read_only_older_inventory_is_queried_as_it_is(
    ctys_env: dict[str, str], readonly_fs: Path, tmp_path: Path, old: str
) -> None:
    from tmpfs import remount_readonly

    db = readonly_fs / "inv.sqlite"
    with Inventory.open(db) as inv:
        inv.add([InventoryRecord(host="h", label="good", pname="/v/good.conf")])
    _as_older_schema(db, old)
    remount_readonly(readonly_fs)
    with Inventory.open_readonly(db) as inv:
        assert [r.label for r in inv.find(label="good")] == ["good"]


_KILLED_RESCAN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import ctys.address.rescan as rescan
    from ctys.inventory import filecache
    from ctys.inventory.settings import InventoryChoice
    from ctys.invocation import CacheControl
    from ctys.conf.vmstate import DEFAULT_FILTER
    from ctys.plugins.qemu.actions.enumscan import enumerate_scan
    import ctys.inventory.store as store

    filecache.SETTLE_NS = 0
    real = store._checked_host

    def stalled(host, records):
        yield from real(host, records)
        print("midway", flush=True)  # inside the transaction, rows already written
        time.sleep(60)

    store._checked_host = stalled
    root = Path(sys.argv[2])
    enumerate_scan(InventoryChoice(Path(sys.argv[1]), CacheControl.ON), [root], [root],
                   states=DEFAULT_FILTER)
    """
)


def test_kill_9_during_a_rescan_leaves_records_and_files_as_they_were(
    tmp_path: Path, settled: None
) -> None:
    root = tmp_path / "vms"
    root.mkdir()
    for i in range(5):
        (root / f"vm{i}.conf").write_text(conf(f"vm{i}", i))
    db = tmp_path / "inv.sqlite"
    wait_settled()
    scan(db, root)

    def snapshot() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        raw = sqlite3.connect(db)
        try:
            records = raw.execute("SELECT * FROM records ORDER BY id").fetchall()
            files = raw.execute("SELECT * FROM files ORDER BY path").fetchall()
        finally:
            raw.close()
        return records, files

    before = snapshot()
    assert len(before[1]) == 5
    (root / "vm0.conf").unlink()
    (root / "vm1.conf").write_text(conf("vm1-renamed", 1))
    (root / "vm9.conf").write_text(conf("vm9", 9))

    def unchanged() -> None:  # readers see the old inventory meanwhile
        assert snapshot() == before

    kill_9_at_midway(_KILLED_RESCAN, [str(db), str(root)], unchanged)
    assert snapshot() == before
    after = scan(db, root)  # and the next scan sees the edits
    assert [r.label for r in after.records] == ["vm1-renamed", "vm2", "vm3", "vm4", "vm9"]


def test_reading_in_worker_processes_gives_what_one_process_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "vms"
    for i in range(40):
        folder = root / f"pool{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"vm{i}.conf").write_text(conf(f"vm{i}", i % 30))  # 10 UUIDs twice
        (folder / f"net{i}.conf").write_text(f"BRIDGE=br{i}\n")
    (root / "pool1" / "bad.conf").write_text("#@#MAGICID-QEMU\nKERNEL=$(uname -r)\n")
    (root / "pool2" / "exec.conf").write_text(conf("exec", 99, extra="QEMUBIN=/opt/q\n"))
    monkeypatch.setattr(ctys.address.rescan, "PARALLEL_FROM", 1)
    parent = os.getpid()
    pids: set[int] = set()
    real = ctys.address.rescan._read_chunk
    # While two workers read, each waits for the other to hold a part: on a loaded machine
    # the first one up would otherwise take both parts (the pool's own balancing).
    both: list[Any] = []

    def chunk(todo: object, reading: object) -> object:
        for barrier in both:
            barrier.wait(timeout=60)
        done = real(todo, reading)  # type: ignore[arg-type]
        return [(path, (os.getpid(), outcome)) for path, outcome in done]

    def unwrap(outcomes: dict[str, object]) -> dict[str, object]:
        for pid, _ in outcomes.values():  # type: ignore[misc]
            pids.add(pid)
        return {path: outcome for path, (_, outcome) in outcomes.items()}  # type: ignore[misc]

    from ctys.address import parallelread

    original = parallelread.read_in_workers
    monkeypatch.setattr(
        parallelread,
        "read_in_workers",
        lambda todo, reading, _: unwrap(original(todo, reading, chunk)),
    )
    monkeypatch.setattr(parallelread, "workers_since", lambda ticks: 1)
    one = scan(None, root)  # by default: as many as the walk saw idle CPUs (here 1)
    assert pids == set()  # one process: no workers
    monkeypatch.setattr(parallelread, "workers_since", lambda ticks: 2)
    monkeypatch.setattr(parallelread, "cpus", lambda: 2)
    both.append(multiprocessing.get_context("fork").Barrier(2))
    two = scan(None, root)
    both.clear()
    assert len(pids) == 2 and parent not in pids  # two workers did the reading
    assert plain(scan(None, root, workers=1).records) == plain(one.records)
    assert len(pids) == 2  # workers=1: no new worker
    assert len(one.records) == 31 and len(one.errors) == 11
    assert plain(two.records) == plain(one.records)
    assert (two.errors, two.exec_warnings) == (one.errors, one.exec_warnings)


def test_a_rescan_runs_again_under_the_lock_when_another_process_wrote_meanwhile(
    tmp_path: Path,
) -> None:
    db = tmp_path / "inv.sqlite"
    root = Path("/vms")
    mine = InventoryRecord(host="h", label="mine", pname="/vms/mine.conf")
    theirs = InventoryRecord(host="h", label="theirs", pname="/vms/theirs.conf")
    seen: list[set[str]] = []

    def scan_once(state: filecache.ScanState) -> filecache.ScanUpdate[int]:
        rows = state.rows
        seen.append(set(rows))
        if len(seen) == 1:
            with Inventory.open(db) as other:  # another ENUMERATE commits meanwhile
                other.add([theirs])
        return filecache.ScanUpdate(set(rows), [mine], {}, len(seen))

    with Inventory.open(db) as inv:
        assert inv.rescan("h", [root], "QEMU", scan_once) == 2
        assert seen == [set(), {"/vms/theirs.conf"}]  # the second run saw the other's row
        assert sorted(r.label for r in inv.all()) == ["mine", "theirs"]


def test_a_conf_symlinked_from_outside_the_base_path_is_rescanned(
    tmp_path: Path, settled: None
) -> None:
    """Known by its target's path (outside the scanned folder): its files row is replaced."""
    root = tmp_path / "vms"
    elsewhere = tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (elsewhere / "real.conf").write_text(conf("linked", 1))
    (root / "vm.conf").symlink_to(elsewhere / "real.conf")
    db = tmp_path / "inv.sqlite"
    wait_settled()
    for _ in range(3):
        found = scan(db, root)
        assert [(r.label, r.pname) for r in found.records] == [
            ("linked", str(elsewhere / "real.conf"))
        ]
