"""Fleet scale by simulation: 1,000 targets, and an inventory of 1,000 hosts x 1,000 VMs.

Run as ``.venv/bin/python bench/fleet.py [--targets N] [--hosts H] [--vms V] [--quick]``.

1. **Fan-out merge.** ctys's own fan-out (``ctys.remote.fanout.run_on_targets``) runs one
   command per simulated target: a stand-in for ``ssh host ctys … ENUMERATE=…,JSON`` that
   sleeps a random 20-200 ms (the target's latency) and prints that host's canned JSON rows.
   The answers are merged as ctys merges them (``json_rows`` → ``records_from_rows``). Printed:
   wall time against the ideal (the largest latency: every target at once), rows merged per
   second, and peak memory, at the default parallelism (``CTYS_MAX_PARALLEL``, 16) and at 256.
2. **The inventory at fleet size.** H hosts x V VMs stored as ENUMERATE's merge stores the
   remote hosts' answers (each host's JSON answer parsed, ``json_rows``, turned into record
   values, ``record_values``, and stored by ``Inventory.replace_scans``: each host whole,
   100,000 rows a transaction; making the answers is not timed): total time and CPU time
   (target < 30 s for 1,000 x 1,000), then exact lookups by label, UUID and MAC in the 1M
   rows (target < 1 ms each). The records the merge prints are not made (nor printed).

No ssh and no qemu: the simulated targets are local processes, so the figures are ctys's
merge and store costs, not the network's. ``--quick``: 20 targets, 20 x 100 rows.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import HostScan, Inventory
from ctys.invocation import Target
from ctys.remote.fanout import TargetResult, run_on_targets
from ctys.remote.merge import json_rows, record_values, records_from_rows

console = Console(width=None if sys.stdout.isatty() else 120)


def _uuid(host: int, vm: int) -> str:
    return f"{host:08x}-0000-4000-8000-{vm:012x}"


def _mac(host: int, vm: int) -> str:
    value = (host << 16) | vm
    return "52:54:" + ":".join(f"{(value >> s) & 0xFF:02x}" for s in (24, 16, 8, 0))


def host_rows(host: int, vms: int) -> list[dict[str, object]]:
    """The ENUMERATE JSON rows of simulated host ``host``."""
    return [
        {
            "HOST": f"h{host:04d}",
            "STYPE": "QEMU",
            "LABEL": f"vm{host:04d}-{vm:04d}",
            "PNAME": f"/srv/vms/vm{vm:04d}/vm{vm:04d}.conf",
            "UUID": _uuid(host, vm),
            "MAC": _mac(host, vm),
            "TCP": f"10.{host % 250}.{vm // 250}.{vm % 250 + 1}",
        }
        for vm in range(vms)
    ]


def bench_fanout(targets: int, rows: int, parallel: int, work: Path) -> dict[str, float]:
    """One simulated fan-out over ``targets`` at ``parallel``; its figures."""
    rng = random.Random(targets * 7 + parallel)
    delays = [rng.uniform(0.020, 0.200) for _ in range(targets)]
    for host in range(targets):
        path = work / f"h{host:04d}.json"
        if not path.exists():
            path.write_text(json.dumps(host_rows(host, rows)))
    hosts = [Target(f"h{i:04d}") for i in range(targets)]
    delay_of = {t.host: d for t, d in zip(hosts, delays, strict=True)}

    def argv(target: Target) -> list[str]:
        # The stand-in for "ssh HOST ctys ... ,JSON": latency, then the host's rows.
        seconds = f"{delay_of[target.host]:.3f}"
        return [
            "sh",
            "-c",
            'sleep "$1"; cat "$2"',
            "sh",
            seconds,
            str(work / f"{target.host}.json"),
        ]

    start = time.perf_counter()
    results = run_on_targets(hosts, argv, max_parallel=parallel, timeout=60)
    merged: list[InventoryRecord] = []
    for result in results:
        merged += records_from_rows(result.target, json_rows(result))
    wall = time.perf_counter() - start
    assert len(merged) == targets * rows, (len(merged), targets * rows)
    return {
        "wall": wall,
        "ideal": max(delays),
        "rows": len(merged),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def bench_inventory(hosts: int, vms: int, lookups: int, work: Path) -> dict[str, float]:
    """Fill an inventory as an ENUMERATE merge of ``hosts`` does; time it and exact lookups."""
    inv = Inventory.open(work / "fleet.sqlite")
    untimed = [0.0, 0.0]  # wall, CPU of making the answers

    def scans() -> Iterator[HostScan]:
        for host in range(hosts):
            name = f"h{host:04d}"
            # The host's answer as ENUMERATE prints it; making it is not timed.
            start, cpu = time.perf_counter(), time.process_time()
            answer = TargetResult(name, 0, json.dumps(host_rows(host, vms)), "", None, 0.1)
            untimed[0] += time.perf_counter() - start
            untimed[1] += time.process_time() - cpu
            yield HostScan(name, [Path("/srv/vms")], record_values(name, json_rows(answer)))

    try:
        start, cpu = time.perf_counter(), time.process_time()
        inv.replace_scans(scans())
        fill = time.perf_counter() - start - untimed[0]
        fill_cpu = time.process_time() - cpu - untimed[1]
        count = inv.count()
        assert count == hosts * vms, (count, hosts * vms)
        rng = random.Random(1)
        times: dict[str, list[float]] = {"label": [], "uuid": [], "mac": []}
        for _ in range(lookups):
            host, vm = rng.randrange(hosts), rng.randrange(vms)
            keys = {
                "label": f"vm{host:04d}-{vm:04d}",
                "uuid": _uuid(host, vm),
                "mac": _mac(host, vm),
            }
            for field, value in keys.items():
                t0 = time.perf_counter()
                found = inv.find(**{field: value})
                times[field].append(time.perf_counter() - t0)
                assert len(found) == 1, (field, value, found)
    finally:
        inv.close()
    out = {"fill": fill, "fill_cpu": fill_cpu, "rows": float(count)}
    for field, values in times.items():
        out[f"{field}_median"] = statistics.median(values)
        out[f"{field}_max"] = max(values)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=20, help="rows each target answers")
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--lookups", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="20 targets, 20 x 100 rows")
    args = parser.parse_args()
    if args.quick:
        args.targets, args.hosts, args.vms, args.lookups = 20, 20, 100, 20
    work = Path(tempfile.mkdtemp(prefix="ctys-fleet-"))
    try:
        fan = Table(title=f"Fan-out merge, {args.targets} simulated targets x {args.rows} rows")
        for col in ("parallel", "wall s", "ideal s", "wall ÷ ideal", "rows/s", "peak RSS MB"):
            fan.add_column(col, justify="right")
        for parallel in (16, 256):
            got = bench_fanout(args.targets, args.rows, parallel, work)
            fan.add_row(
                str(parallel),
                f"{got['wall']:.2f}",
                f"{got['ideal']:.3f}",
                f"{got['wall'] / got['ideal']:.1f}",
                f"{got['rows'] / got['wall']:,.0f}",
                f"{got['maxrss_mb']:.0f}",
            )
        console.print(fan)
        inv = bench_inventory(args.hosts, args.vms, args.lookups, work)
        table = Table(title=f"Inventory of {args.hosts} hosts x {args.vms} VMs")
        for col in ("what", "median", "max", "target", "verdict"):
            table.add_column(col, justify="right")
        ok_fill = inv["fill"] < 30
        table.add_row(
            f"store {int(inv['rows']):,} rows as the merge does",
            f"{inv['fill']:.1f} s", "", "< 30 s", "PASS" if ok_fill else "FAIL",
        )  # fmt: skip
        # CPU time does not grow with the load of other processes on the machine.
        table.add_row("  its CPU time (user + system)", f"{inv['fill_cpu']:.1f} s", "", "", "")
        verdicts = [ok_fill]
        for field in ("label", "uuid", "mac"):
            median, worst = inv[f"{field}_median"] * 1000, inv[f"{field}_max"] * 1000
            verdicts.append(median < 1)
            table.add_row(
                f"find({field}=…)", f"{median:.3f} ms", f"{worst:.3f} ms", "< 1 ms",
                "PASS" if median < 1 else "FAIL",
            )  # fmt: skip
        console.print(table)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # A quick run checks that the bench runs; its tiny sizes say nothing about the targets.
    return 0 if args.quick or all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
