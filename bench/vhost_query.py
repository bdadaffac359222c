"""Benchmark: ctys-vhost's query language over the SQLite inventory versus ``grep`` on the
same records exported as a cacheDB file (``enum.fdb``).

Run as ``.venv/bin/python bench/vhost_query.py [--records N] [--runs N]``. For each query
form (an exact field term, an anchored ``F:`` term, a plain word, a regex, an ``F:`` regex,
AND/OR/NOT) it times the in-process query (``Inventory.query``, median of ``--runs``) and
the equivalent ``grep`` pipeline as processes on the exported file, and prints the ratio
(grep ÷ ctys). It also times one ``ctys-vhost`` process for the exact term (process start-up
included), beside ``grep -F``, ``python -c pass`` and the floor of any Python answer (a
bare script importing ``re`` as pip's console script does, then ``sqlite3``, connecting
read-only and running one indexed SELECT). Exact terms go through an index; the target is
at least 10x faster than grep for them. It is a benchmark, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchlib import child_env, med, ms
from ctys.inventory.cachedb import export_cachedb
from ctys.inventory.query import Query, field_position, parse_words
from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import Inventory

console = Console()
DISTS = ("debian", "centos", "suse", "ubuntu")


def records(count: int) -> Iterator[InventoryRecord]:
    """Synthetic VMs on two hosts."""
    for i in range(count):
        name = f"vm{i:06d}"
        yield InventoryRecord(
            host=f"h{i % 2}",
            stype="QEMU",
            label=name,
            pname=f"/srv/vms/pool-{i // 100:04d}/{name}/{name}.conf",
            uuid=f"{i:08x}-0000-4000-8000-{i:012x}",
            mac=f"52:54:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
            tcp=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
            dist=DISTS[i % len(DISTS)],
            os="Linux",
            accelerator="KVM" if i % 3 else "QEMU",
        )


def pipeline(stages: Sequence[Sequence[str]], env: dict[str, str] | None = None) -> float:
    """Wall time of ``stages`` piped into each other (no shell), output discarded."""
    t0 = time.perf_counter()
    procs: list[subprocess.Popen[bytes]] = []
    stdin = None
    for number, argv in enumerate(stages):
        last = number == len(stages) - 1
        proc = subprocess.Popen(
            list(argv), stdin=stdin, stdout=subprocess.DEVNULL if last else subprocess.PIPE, env=env
        )
        if stdin is not None:
            stdin.close()
        stdin = proc.stdout
        procs.append(proc)
    for proc in procs:
        proc.wait()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--quick", action="store_true", help="1,000 records, one run (a smoke test for CI)"
    )
    options = parser.parse_args()
    if options.quick:
        options.records, options.runs = min(options.records, 1000), 1
    label = field_position("LABEL")
    pname = field_position("PNAME")
    with tempfile.TemporaryDirectory(prefix="ctys-bench-vhost-") as tmp:
        work = Path(tmp)
        db, fdb = work / "inv.sqlite", work / "enum.fdb"
        with Inventory.open(db) as inventory:
            inventory.add(records(options.records))
            with fdb.open("w") as out:
                export_cachedb(inventory.all(), out)
        file = str(fdb)
        target = f"vm{min(54321, options.records - 1):06d}"
        # query words, the grep pipeline that selects the same lines, a description
        cases: list[tuple[str, list[str], list[list[str]]]] = [
            ("exact field L:x (index)", [f"L:{target}"], [["grep", "-F", f";{target};", file]]),
            (
                "anchored F:<n>:^x$ (index)",
                [f"F:{label}:^{target}$"],
                [["grep", "-E", f"^([^;]*;){{{label - 1}}}{target};", file]],
            ),
            ("plain word", ["vm05432"], [["grep", "-F", "vm05432", file]]),
            ("regex", ["vm0543[0-9]1;"], [["grep", "-E", "vm0543[0-9]1;", file]]),
            (
                "F:<n>:regex",
                [f"F:{pname}:pool-054[0-3]/"],
                [["grep", "-E", f"^([^;]*;){{{pname - 1}}}[^;]*pool-054[0-3]/", file]],
            ),
            (
                "x AND a OR b AND NOT c",
                ["vm0543", "AND", "centos", "OR", "suse", "AND", "NOT", "^h1;"],
                [
                    ["grep", "-F", "vm0543", file],
                    ["grep", "-E", "centos|suse"],
                    ["grep", "-v", "^h1;"],
                ],
            ),
        ]
        table = Table(
            title=f"ctys-vhost queries in {options.records:,} records vs grep on the "
            f"{fdb.stat().st_size / 1e6:.1f} MB enum.fdb (ms, median of {options.runs})"
        )
        for col in ("query", "matches", "ctys (in-process)", "grep", "grep ÷ ctys"):
            table.add_column(col, justify="left" if col == "query" else "right")
        with Inventory.open_readonly(db) as inventory:
            for what, words, stages in cases:
                query = Query(parse_words(words))
                found = inventory.query(query)
                times = []
                for _ in range(options.runs):
                    t0 = time.perf_counter()
                    inventory.query(query)
                    times.append(time.perf_counter() - t0)
                pipeline(stages)  # warm the page cache
                grep_times = [pipeline(stages) for _ in range(options.runs)]
                ours, theirs = med(times), med(grep_times)
                ratio = f"{theirs / ours:.1f}x" if ours and theirs else "—"
                table.add_row(what, str(len(found)), ms(ours, 3), ms(theirs, 2), ratio)
        vhost = [str(Path(sys.executable).with_name("ctys-vhost")), "--inventory", str(db)]
        n = max(3, options.runs // 2) if not options.quick else 1
        env = child_env(Path(tmp))
        # The floor of any Python answer: what pip's console script imports itself (re),
        # sqlite3, a read-only connect and one indexed SELECT, nothing of ctys.
        floor_code = (
            "import re, sqlite3\n"
            f"db = sqlite3.connect({f'file:{db}?mode=ro'!r}, uri=True)\n"
            f"db.execute('SELECT * FROM records WHERE label = ?', ({target!r},)).fetchall()\n"
        )
        commands = {
            "process": ([*vhost, f"L:{target}"], env),
            "grep": (cases[0][2][0], None),
            "python": ([sys.executable, "-c", "pass"], env),
            "floor": ([sys.executable, "-c", floor_code], env),
        }
        for argv, child in commands.values():
            pipeline([argv], child)  # warm-up (bytecode, page cache)
        times_of: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(n):  # interleaved: a change of the machine's load hits all alike
            for name, (argv, child) in commands.items():
                times_of[name].append(pipeline([argv], child))
        process, grep_exact = times_of["process"], times_of["grep"]
        python, floor = times_of["python"], times_of["floor"]
        console.print(table)
        rows = Table(
            title=f"ctys-vhost L:{target} as a process (ms, {n} runs each, interleaved;"
            f" load {' '.join(f'{x:.1f}' for x in os.getloadavg())})"
        )
        for col in ("command", "min", "median", "max", "÷ grep -F", "÷ python -c pass"):
            rows.add_column(col, justify="left" if col == "command" else "right")
        g, p = med(grep_exact), med(python)
        for what, times in (
            ("grep -F ';x;' enum.fdb (baseline)", grep_exact),
            (f"{Path(sys.executable).name} -c pass (baseline)", python),
            ("bound: python, import re+sqlite3, 1 indexed SELECT", floor),
            ("ctys-vhost --inventory DB L:x", process),
        ):
            m = med(times)
            rows.add_row(
                what, ms(min(times), 1), ms(m, 1), ms(max(times), 1),
                f"{m / g:.1f}x" if m and g else "—", f"{m / p:.1f}x" if m and p else "—",
            )  # fmt: skip
        console.print(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
