"""CANCEL=ALL of N VMs that ignore ACPI: one timeout, not N (issue 9, point 12).

Run as ``.venv/bin/python bench/cancel_parallel.py [--vms N] [--timeout T]`` (under the
shared e2e lock on a shared machine).  Starts N tiny TCG guests with ``ctys.noacpi=1`` in a
private VM folder and runtime dir, then times ``CANCEL=ALL,TIMEOUT:T``.  One after the other
that takes at least N x T seconds; in parallel about T plus the QEMU ``quit``.  Target:
below 2 x T.  Every qemu it started is killed again, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import become_subreaper, qemu_pids
from ctys.plugins.qemu.demo.demovm import write_demo_conf
from ctys.plugins.qemu.images.build import build_guest


def _ctys(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctys", *args],
        env=env, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run for CI: tiny sizes, one run"
    )
    args = parser.parse_args()
    if args.quick:
        args.vms, args.timeout = 2, 1.0
    become_subreaper()
    guest = build_guest()
    work = Path(tempfile.mkdtemp(prefix="ctb", dir="/tmp"))
    runtime = work / "rt"
    env = {
        **os.environ,
        "CTYS_RUNTIME_DIR": str(runtime),
        "CTYS_VMPATH": str(work / "vms"),
        "CTYS_INVENTORY": str(work / "inventory.sqlite"),
        "CTYS_ACCEL": "tcg",
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    try:
        for n in range(args.vms):
            label = f"deaf{n}"
            write_demo_conf(work / "vms" / label, guest, label, noacpi=True)
            done = _ctys(env, "-t", "QEMU", "-a", f"CREATE=l:{label}", "-b", "1")
            if done.returncode != 0:
                print(f"CREATE {label} failed: {done.stderr.strip()}")
                return 1
        t0 = time.perf_counter()
        done = _ctys(env, "-t", "QEMU", "-a", f"CANCEL=ALL,TIMEOUT:{args.timeout:g}")
        seconds = time.perf_counter() - t0
        print(done.stdout.strip())
        serial = args.vms * args.timeout
        verdict = "PASS" if done.returncode == 0 and seconds < 2 * args.timeout else "FAIL"
        print(
            f"CANCEL=ALL of {args.vms} VMs ignoring ACPI, TIMEOUT {args.timeout:g}s:"
            f" {seconds:.2f}s (one after the other: >= {serial:g}s; target < "
            f"{2 * args.timeout:g}s) {verdict}"
        )
        return 0 if verdict == "PASS" else 1
    finally:
        for pid in qemu_pids(runtime):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
