"""A new user's path: ENUMERATE a folder of VMs, boot one by label from the inventory;
crash safety of ENUMERATE; cacheDB export/import round trip through the CLIs."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from support.cli import CTYS
from support.rows import list_rows

CONF = "#@#MAGICID-QEMU\n#@#LABEL = {label}\n#@#UUID = {uuid}\nKERNEL=vmlinuz\n"


def _rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])


def test_enumerate_folder_then_boot_by_label(ctys, make_vm, ctys_env) -> None:
    make_vm("web")
    make_vm("db")
    broken = Path(ctys_env["CTYS_VMPATH"]) / "bad" / "bad.conf"
    broken.parent.mkdir()
    broken.write_text("#@#MAGICID-QEMU\nX=1\nY=$(reboot)\n")

    done = ctys("-t", "QEMU", "-a", "ENUMERATE=MACHINE")
    assert done.returncode == 0, done.stderr
    # The original's record: 47 fields, LABEL the 3rd, ID (the conf) the 4th; no header.
    records = [line.split(";") for line in done.stdout.splitlines()]
    assert [len(r) for r in records] == [47, 47]
    assert sorted(r[2] for r in records) == ["db", "web"]
    assert all(r[1] == "QEMU" and f"/{r[2]}." in r[3] for r in records)
    assert f"skipped {broken}:3:" in done.stderr

    # The label is now resolved from the inventory: boot, see it in LIST, stop it.
    vhost = subprocess.run(
        [str(Path(sys.executable).with_name("ctys-vhost")), "-o", "L", "L:web"],
        env=ctys_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert vhost.returncode == 0 and "web" in vhost.stdout, vhost.stderr
    assert ctys("-t", "QEMU", "-a", "CREATE=l:web,WAIT:guest#", "-b", "1").returncode == 0
    rows = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
    assert [(r["LABEL"], r["STATE"]) for r in rows] == [("web", "running")]
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:web").returncode == 0


def test_kill_9_during_enumerate_keeps_the_previous_inventory(ctys, ctys_env) -> None:
    root = Path(ctys_env["CTYS_VMPATH"])
    for i in range(300):
        folder = root / f"vm{i:04d}"
        folder.mkdir()
        (folder / f"vm{i:04d}.conf").write_text(
            CONF.format(label=f"vm{i:04d}", uuid=f"{i:08x}-0000-4000-8000-000000000000")
        )
    assert ctys("-t", "QEMU", "-a", "ENUMERATE=TERSE").returncode == 0
    db = Path(ctys_env["CTYS_INVENTORY"])
    assert _rows(db) == 300
    for i in range(300, 3000):
        folder = root / f"vm{i:04d}"
        folder.mkdir()
        (folder / f"vm{i:04d}.conf").write_text(
            CONF.format(label=f"vm{i:04d}", uuid=f"{i:08x}-0000-4000-8000-000000000000")
        )

    rng = random.Random(7)
    killed = 0
    for _ in range(6):
        proc = subprocess.Popen(
            [*CTYS, "-t", "QEMU", "-a", "ENUMERATE=TERSE"],
            env=ctys_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.2, 1.2))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
        # Whatever moment the kill hit: the old inventory whole, or the new one whole.
        assert _rows(db) in (300, 3000)
    assert killed >= 1
    assert ctys("-t", "QEMU", "-a", "ENUMERATE=TERSE").returncode == 0
    assert _rows(db) == 3000


def test_cachedb_export_import_round_trip_through_the_clis(
    ctys, make_vm, ctys_env, short_tmp
) -> None:
    make_vm("one")
    make_vm("two")
    assert ctys("-t", "QEMU", "-a", "ENUMERATE=TERSE").returncode == 0
    vhost = str(Path(sys.executable).with_name("ctys-vhost"))
    first, second = short_tmp / "a.cachedb", short_tmp / "b.cachedb"
    subprocess.run([vhost, "--export", str(first)], env=ctys_env, check=True)
    other = short_tmp / "other.sqlite"
    run = [vhost, "--inventory", str(other)]
    subprocess.run([*run, "--import", str(first)], env=ctys_env, check=True)
    subprocess.run([*run, "--export", str(second)], env=ctys_env, check=True)
    assert first.read_bytes() == second.read_bytes()
    # The original's enum.fdb: no header, 47 fields a line.
    assert [line.count(";") for line in first.read_text().splitlines()] == [46, 46]
