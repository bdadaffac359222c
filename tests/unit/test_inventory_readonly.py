"""Reading the inventory never writes it; a full disk leaves no 0-byte or half file
(issue 9, point 16). A read-only tmpfs (even root cannot write) and another user (a file
0444 in a folder 0555 of ours) are real; nothing here boots qemu."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from otheruser import run_as
from tmpfs import fill, remount_readonly

from ctys.cli import vhost
from ctys.cli.main import main
from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import Inventory

CONF = "#@#MAGICID-QEMU\n#@#LABEL = {label}\n#@#ACCELERATOR = TCG\nKERNEL=vmlinuz\n"


def digest(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mode, p.read_bytes()) for p in sorted(folder.iterdir())}


@pytest.fixture
def filled(ctys_env: dict[str, str], readonly_fs: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """VM ``good`` in the VM folder, the inventory (from ENUMERATE) on a read-only mount."""
    vmdir = Path(ctys_env["CTYS_VMPATH"])
    (vmdir / "good").mkdir()
    (vmdir / "good" / "good.conf").write_text(CONF.format(label="good"))
    inventory = readonly_fs / "inventory.sqlite"
    monkeypatch.setenv("CTYS_INVENTORY", str(inventory))
    assert main(["-t", "QEMU", "-a", "ENUMERATE"]) == 0
    remount_readonly(readonly_fs)
    return inventory


def test_vhost_queries_a_read_only_inventory(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    before = digest(filled.parent)
    assert vhost.main(["-j", "good"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and [r["LABEL"] for r in json.loads(out)] == ["good"]
    assert vhost.main(["-C", "LIST"]) == 0
    assert "records:   1" in capsys.readouterr().out
    assert vhost.main(["--export", "-"]) == 0
    assert "good" in capsys.readouterr().out
    assert digest(filled.parent) == before


def test_address_resolution_and_enumerate_list_read_a_read_only_inventory(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    # Found through the inventory (the VM just is not running), no "damaged" inventory.
    assert main(["-t", "QEMU", "-a", "CANCEL=l:good"]) == 1
    assert capsys.readouterr().err == "ctys: VM good is not running\n"
    assert main(["-t", "QEMU", "-a", "ENUMERATE", "-C", "list", "-o", "json"]) == 0
    assert [r["LABEL"] for r in json.loads(capsys.readouterr().out)] == ["good"]


def test_writing_a_read_only_inventory_is_one_line(
    filled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert vhost.main(["-C", "CLEAR"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ctys-vhost: ") and str(filled) in err[0]


def test_an_empty_inventory_file_reads_as_empty_and_stays_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "inventory.sqlite"
    path.touch()
    with Inventory.open_readonly(path) as inv:
        assert inv.is_empty() and inv.all() == []
    assert path.stat().st_size == 0 and list(tmp_path.iterdir()) == [path]


def test_open_readonly_of_a_damaged_file_names_it(tmp_path: Path) -> None:
    from ctys.errors import CtysError

    path = tmp_path / "inventory.sqlite"
    path.write_bytes(b"x" * 5000)
    with pytest.raises(CtysError, match=f"{path}: not a ctys inventory or damaged"):
        Inventory.open_readonly(path)


def test_another_user_queries_our_shared_read_only_inventory(
    short_tmp: Path, ctys_env: dict[str, str], other_user: str
) -> None:
    """A shared inventory: the file 0444, its folder 0555, both ours; ``nobody`` reads."""
    shared = short_tmp / "shared"
    shared.mkdir()
    inventory = shared / "inventory.sqlite"
    with Inventory.open(inventory) as inv:
        inv.add([InventoryRecord(host="h", label="good", pname="/v/good.conf")])
    inventory.chmod(0o444)
    shared.chmod(0o555)
    short_tmp.chmod(0o755)
    before = digest(shared)
    done = run_as(
        other_user, "ctys.cli.vhost", "-t", "-o", "LABEL,PNAME", "good",
        env={"CTYS_INVENTORY": str(inventory)},
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "good;/v/good.conf\n"
    assert digest(shared) == before


# --- a full disk ------------------------------------------------------------------------


def test_enumerate_into_a_full_disk_leaves_no_inventory_file(
    ctys_env: dict[str, str],
    full_fs: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vmdir = Path(ctys_env["CTYS_VMPATH"])
    (vmdir / "good").mkdir()
    (vmdir / "good" / "good.conf").write_text(CONF.format(label="good"))
    monkeypatch.setenv("CTYS_INVENTORY", str(full_fs / "inv" / "inventory.sqlite"))
    assert main(["-t", "QEMU", "-a", "ENUMERATE"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ctys: inventory "), err
    assert sorted(p.name for p in full_fs.rglob("*")) == ["filler", "inv"]


def test_import_into_a_full_disk_leaves_no_inventory_file(
    tmp_path: Path, full_fs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cachedb = tmp_path / "in.cachedb"
    cachedb.write_text("h;good\n")
    code = vhost.main(["-c", str(full_fs / "inventory.sqlite"), "--import", str(cachedb)])
    assert code == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert [p.name for p in full_fs.iterdir()] == ["filler"]


def test_export_to_a_full_disk_leaves_no_file_and_keeps_an_old_one(
    tmp_path: Path, full_fs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "inventory.sqlite"
    with Inventory.open(db) as inv:
        inv.add(
            [InventoryRecord(host="h", label=f"vm{i}", pname=f"/v/{i}.conf") for i in range(50)]
        )
    target = full_fs / "out.cachedb"
    assert vhost.main(["-c", str(db), "--export", str(target)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(target) in err[0] and "No space left" in err[0], err
    assert sorted(p.name for p in full_fs.iterdir()) == ["filler"]

    # An existing export is replaced whole or not at all.
    (full_fs / "filler").unlink()
    target.write_text("old\n")
    fill(full_fs / "filler2")
    assert vhost.main(["-c", str(db), "--export", str(target)]) == 1
    capsys.readouterr()
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in full_fs.iterdir()) == ["filler2", "out.cachedb"]
