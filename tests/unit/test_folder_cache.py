"""The folder-listing cache of incremental ENUMERATE (issue 15, point 1): a folder whose key
(dev, inode, mtime, ctime) is unchanged and settled is not listed again; every change to
the tree still gives what a fresh scan gives. Real files, real SQLite stores."""

from __future__ import annotations

import os
import shutil
import sqlite3
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from otheruser import run_as
from test_inventory_rescan import SETTLE_NS, conf, plain, wait_settled

from ctys.conf.vmstate import DEFAULT_FILTER
from ctys.inventory import filecache, foldercache
from ctys.inventory.settings import InventoryChoice
from ctys.inventory.store import Inventory
from ctys.invocation import CacheControl
from ctys.plugins.qemu.actions.enumscan import Enumerated, enumerate_scan

# A process of its own uses filecache.SETTLE_NS (2 s): this long, what was made has settled.
SETTLED_FOR_REAL = filecache.SETTLE_NS / 1e9 + 0.2


def scan(db: Path | None, root: Path, control: CacheControl = CacheControl.ON) -> Enumerated:
    return enumerate_scan(InventoryChoice(db, control), [root], [root], states=DEFAULT_FILTER)


@pytest.fixture
def settled() -> Iterator[None]:
    with mock.patch.object(filecache, "SETTLE_NS", SETTLE_NS):
        yield


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The folders a scan lists (``os.scandir`` calls)."""
    seen: list[str] = []
    real = os.scandir

    def counted(path: str) -> object:
        seen.append(str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", counted)
    return seen


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """vms/{a.conf, sub/b.conf, sub/deep/c.conf, other/d.conf}"""
    root = tmp_path / "vms"
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "other").mkdir()
    (root / "a.conf").write_text(conf("a", 1))
    (root / "sub" / "b.conf").write_text(conf("b", 2))
    (root / "sub" / "deep" / "c.conf").write_text(conf("c", 3))
    (root / "other" / "d.conf").write_text(conf("d", 4))
    return root


def labels(found: Enumerated) -> list[str]:
    return [r.label for r in found.records]


def folder_rows(db: Path) -> list[str]:
    raw = sqlite3.connect(db)
    try:
        return sorted(row[0] for row in raw.execute("SELECT path FROM folders"))
    finally:
        raw.close()


def same_as_fresh(db: Path, root: Path, tmp_path: Path) -> Enumerated:
    incremental = scan(db, root)
    fresh = scan(tmp_path / f"fresh-{len(list(tmp_path.iterdir()))}.sqlite", root)
    assert plain(incremental.records) == plain(fresh.records)
    assert (incremental.errors, incremental.warnings) == (fresh.errors, fresh.warnings)
    assert incremental.entries == fresh.entries
    return incremental


def test_an_unchanged_settled_tree_is_not_listed_again(
    tree: Path, tmp_path: Path, settled: None, listed: list[str]
) -> None:
    db = tmp_path / "inv.sqlite"
    wait_settled()
    first = scan(db, tree)
    assert len(listed) == 4
    assert folder_rows(db) == sorted(
        str(p) for p in (tree, tree / "sub", tree / "sub/deep", tree / "other")
    )
    listed.clear()
    again = scan(db, tree)
    assert listed == []  # every folder's listing came from the inventory
    assert again.records == first.records and again.entries == first.entries
    (tree / "sub" / "new.conf").write_text(conf("new", 5))  # sub's mtime moves
    listed.clear()
    assert labels(scan(db, tree)) == ["a", "d", "b", "new", "c"]
    assert listed == [str(tree / "sub")]  # only the folder that changed
    assert labels(same_as_fresh(db, tree, tmp_path)) == ["a", "d", "b", "new", "c"]


def test_rebuild_lists_every_folder(
    tree: Path, tmp_path: Path, settled: None, listed: list[str]
) -> None:
    db = tmp_path / "inv.sqlite"
    wait_settled()
    scan(db, tree)
    listed.clear()
    scan(db, tree, CacheControl.REBUILD)
    assert len(listed) == 4


@pytest.fixture
def coarse_times(monkeypatch: pytest.MonkeyPatch) -> None:
    """A filesystem whose folder times may stay the same across a change (a coarse clock):
    the key holds only the mtime, which the tests put back as it was."""

    def key(self: foldercache.FolderCache, info: os.stat_result) -> bytes:
        return struct.pack("<QQq", info.st_dev, info.st_ino, info.st_mtime_ns)

    monkeypatch.setattr(foldercache.FolderCache, "_key", key)


def add_keeping_mtime(folder: Path, name: str, text: str) -> None:
    info = folder.stat()
    (folder / name).write_text(text)
    os.utime(folder, ns=(info.st_atime_ns, info.st_mtime_ns))


def test_a_file_added_to_a_folder_in_its_settle_window_is_found(
    tree: Path, tmp_path: Path, coarse_times: None
) -> None:
    """The folder changed just before the scan listed it: not remembered, so a file added
    in the same clock tick (its mtime left as it was) is found by the next scan."""
    db = tmp_path / "inv.sqlite"
    (tree / "sub" / "x.conf").write_text(conf("x", 6))  # sub changes now
    with mock.patch.object(filecache, "SETTLE_NS", 60_000_000_000):  # whatever the load
        assert labels(scan(db, tree)) == ["a", "d", "b", "x", "c"]
        assert str(tree / "sub") not in folder_rows(db)
        add_keeping_mtime(tree / "sub", "y.conf", conf("y", 7))
        assert labels(same_as_fresh(db, tree, tmp_path)) == ["a", "d", "b", "x", "y", "c"]


def test_a_settled_folder_is_trusted_by_its_times(
    tree: Path, tmp_path: Path, settled: None, coarse_times: None
) -> None:
    """The other side of the rule above (and proof that the cache is used): an entry
    added with the folder's times put back is not seen until the folder changes."""
    db = tmp_path / "inv.sqlite"
    wait_settled()
    scan(db, tree)
    add_keeping_mtime(tree / "sub", "y.conf", conf("y", 7))
    assert labels(scan(db, tree)) == ["a", "d", "b", "c"]
    (tree / "sub" / "z.conf").write_text(conf("z", 8))
    assert labels(scan(db, tree)) == ["a", "d", "b", "y", "z", "c"]


def test_a_removed_folder_is_gone_with_its_vms(tree: Path, tmp_path: Path, settled: None) -> None:
    db = tmp_path / "inv.sqlite"
    wait_settled()
    scan(db, tree)
    shutil.rmtree(tree / "sub")
    assert labels(same_as_fresh(db, tree, tmp_path)) == ["a", "d"]
    assert folder_rows(db) == [str(tree / "other")]  # vms changed just now: not yet
    with Inventory.open(db) as inv:
        assert sorted(r.label for r in inv.all()) == ["a", "d"]


def test_a_renamed_folder_is_found_under_its_new_name(
    tree: Path, tmp_path: Path, settled: None
) -> None:
    db = tmp_path / "inv.sqlite"
    wait_settled()
    scan(db, tree)
    (tree / "sub").rename(tree / "moved")
    found = same_as_fresh(db, tree, tmp_path)
    assert [(r.label, Path(r.pname).parent.name) for r in found.records] == [
        ("a", "vms"), ("b", "moved"), ("c", "deep"), ("d", "other"),
    ]  # fmt: skip
    assert str(tree / "moved" / "deep") in folder_rows(db)
    assert str(tree / "sub") not in folder_rows(db)
    wait_settled()  # and renamed back, once the new names have settled
    scan(db, tree)
    (tree / "moved").rename(tree / "sub")
    assert labels(same_as_fresh(db, tree, tmp_path)) == ["a", "d", "b", "c"]


def test_a_folder_turned_symlink_is_not_followed(tree: Path, tmp_path: Path, settled: None) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "e.conf").write_text(conf("e", 9))
    db = tmp_path / "inv.sqlite"
    wait_settled()
    scan(db, tree)
    shutil.rmtree(tree / "sub")
    (tree / "sub").symlink_to(elsewhere)
    assert labels(same_as_fresh(db, tree, tmp_path)) == ["a", "d"]
    wait_settled()
    scan(db, tree)  # remembered with the symlink: still not followed
    assert labels(same_as_fresh(db, tree, tmp_path)) == ["a", "d"]
    (tree / "sub").unlink()  # and a folder again
    (tree / "sub").mkdir()
    (tree / "sub" / "f.conf").write_text(conf("f", 10))
    assert labels(same_as_fresh(db, tree, tmp_path)) == ["a", "d", "f"]


def test_a_user_no_longer_in_the_folders_group_is_not_given_its_listing(
    tree: Path, tmp_path: Path, settled: None, listed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mode bits decide, for the scanning user, whether a remembered listing may be
    used (the kernel would refuse to list it; root cannot be refused, so the test counts
    the listings)."""
    sub = tree / "sub"
    os.chown(sub, 4321, 4321)
    sub.chmod(0o750)
    db = tmp_path / "inv.sqlite"
    monkeypatch.setattr(foldercache.os, "geteuid", lambda: 1234)
    monkeypatch.setattr(foldercache.os, "getgroups", lambda: [4321])
    wait_settled()
    scan(db, tree)
    listed.clear()
    scan(db, tree)
    assert listed == []
    monkeypatch.setattr(foldercache.os, "getgroups", lambda: [])
    scan(db, tree)
    assert listed == [str(sub)]


def test_a_folder_made_unreadable_is_reported_by_the_next_rescan(
    short_tmp: Path, other_user: str
) -> None:
    """For real, as ``nobody``: a remembered folder turned 0700 (another owner's) is
    reported as by a full scan, and its VM is gone; opened again, it is back."""
    vms = short_tmp / "vms"
    closed = vms / "closed"
    closed.mkdir(parents=True)
    (vms / "good.conf").write_text(conf("good", 1))
    (closed / "x.conf").write_text(conf("x", 2))
    home = short_tmp / "home"
    home.mkdir()
    shutil.chown(home, other_user)
    for folder in (short_tmp, vms, closed):
        folder.chmod(0o755)
    for path in (vms / "good.conf", closed / "x.conf"):
        path.chmod(0o644)
    env = {
        "CTYS_RUNTIME_DIR": str(home / "rt"),
        "CTYS_INVENTORY": str(home / "inventory.sqlite"),
        "XDG_CACHE_HOME": str(home / "cache"),
    }
    argv = ("-t", "QEMU", "-a", f"ENUMERATE=BASEPATH:{vms},TERSE,LABEL")

    def enumerate_as_nobody() -> tuple[list[str], str]:
        done = run_as(other_user, "ctys.cli.main", *argv, env=env)
        assert done.returncode == 0, done.stderr
        return [line.split(";")[1] for line in done.stdout.splitlines()], done.stderr

    time.sleep(SETTLED_FOR_REAL)
    assert enumerate_as_nobody() == (["good", "x"], "")
    assert enumerate_as_nobody() == (["good", "x"], "")  # from the remembered listings
    closed.chmod(0o700)
    warning = f"ctys: warning: cannot read folder {closed}: Permission denied\n"
    assert enumerate_as_nobody() == (["good"], warning)
    time.sleep(SETTLED_FOR_REAL)
    assert enumerate_as_nobody() == (["good"], warning)
    closed.chmod(0o755)
    assert enumerate_as_nobody() == (["good", "x"], "")


def test_a_folder_whose_name_is_not_utf8_is_listed_every_time(
    tmp_path: Path, settled: None, listed: list[str]
) -> None:
    """Not remembered, nor is the folder that holds it (the store holds text): no error,
    the next scan lists both again."""
    root = tmp_path / "vms"
    (root / "pool").mkdir(parents=True)
    (root / "pool" / "a.conf").write_text(conf("a", 1))
    odd = os.fsdecode(os.path.join(os.fsencode(root / "pool"), b"photos\xff"))
    os.mkdir(odd)
    db = tmp_path / "inv.sqlite"
    wait_settled()
    scan(db, root)
    listed.clear()
    assert labels(scan(db, root)) == ["a"]
    assert listed == [str(root / "pool"), odd]
