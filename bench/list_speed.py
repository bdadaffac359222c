"""LIST start-up and LIST of N running VMs (issue 15, points 2 and 3).

Run as ``flock /tmp/ctys-e2e.lock .venv/bin/python bench/list_speed.py [--vms N] [--runs R]``
(it starts qemus).  Two ratios, each against a baseline measured in the same run:

1. ``ctys -t QEMU -a LIST`` with no VM of ours (an empty private ``CTYS_RUNTIME_DIR`` and
   VM path) against ``python -c pass``: the start-up floor.  Target: at most 5x.
2. LIST with N running VMs against LIST with none.  Target: at most 1.5x.  The N VMs are
   stand-ins: real ``qemu-system-x86_64 -machine none -S`` processes (no guest, so N of
   them do not load the CPUs) in runtime folders laid out as CREATE lays them out
   (``state.json``, ``qemu.pid``, ``qmp.sock``, a conf file), so LIST reads their records,
   the process table and each one's QMP monitor as it does for real VMs.

Other qemus on the host (other users' VMs, other tests) are in both measurements: LIST
reads every process's command line and lists foreign qemus too; their count is printed.
Every qemu this bench started is killed again, also on failure or Ctrl-C.
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

from benchlib import become_subreaper, med, ms, wall
from ctys.plugins.qemu.vm.runtime import RuntimeDir, RuntimeRecord

_QEMU = "qemu-system-x86_64"


def _stand_in(runtime: RuntimeDir, confdir: Path, n: int) -> subprocess.Popen[bytes]:
    """One running qemu in a runtime folder as ctys' CREATE leaves it (no guest)."""
    label = f"lsb{n}"
    vmdir = runtime.create_vm_dir(f"{label}-{n:04d}")
    conf = confdir / f"{label}.conf"
    conf.write_text(f"#@#MAGICID-QEMU\n#@#LABEL = {label}\nKERNEL=vmlinuz\n")
    argv = [
        _QEMU, "-machine", "none", "-S", "-nodefaults", "-display", "none",
        "-accel", "tcg", "-monitor", "none", "-serial", "none", "-name", label,
        "-pidfile", str(vmdir.pidfile),
        "-qmp", f"unix:{vmdir.qmp},server=on,wait=off",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    vmdir.write_record(
        RuntimeRecord(
            vmid=vmdir.vmid, label=label, conf=str(conf), pid=proc.pid, binary=_QEMU,
            accelerator="tcg", started=time.time(), argv=argv,
        )
    )  # fmt: skip
    return proc


def _wait_ready(procs: list[subprocess.Popen[bytes]], runtime: RuntimeDir) -> None:
    deadline = time.monotonic() + 30
    for vmdir in runtime.all_vms():
        while not vmdir.qmp.exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"{vmdir.qmp} did not appear")
            time.sleep(0.02)
    for proc in procs:
        if proc.poll() is not None:
            raise SystemExit(f"a stand-in qemu exited with {proc.returncode}")


def _foreign_qemus() -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                argv0 = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0", 1)[0]
                count += b"qemu" in os.path.basename(argv0)
    return count


def _row(name: str, times: list[float], base: float | None) -> str:
    median = med(times)
    ratio = f"{median / base:.2f}x" if median and base else "—"
    return f"| {name} | {ms(min(times), 1)} | {ms(median, 1)} | {ms(max(times), 1)} | {ratio} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=20)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run for CI: tiny sizes, one run"
    )
    args = parser.parse_args()
    if args.quick:
        args.vms, args.runs = 2, 1
    if shutil.which(_QEMU) is None:
        print(f"bench/list_speed.py: no {_QEMU} on PATH", file=sys.stderr)
        return 1
    become_subreaper()
    work = Path(tempfile.mkdtemp(prefix="ctl", dir="/tmp"))  # short: UNIX socket paths
    env = {
        **os.environ,
        "CTYS_VMPATH": str(work / "vms"),
        "CTYS_INVENTORY": str(work / "inventory.sqlite"),
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    (work / "vms").mkdir()
    empty_env = {**env, "CTYS_RUNTIME_DIR": str(work / "rt0")}
    full_env = {**env, "CTYS_RUNTIME_DIR": str(work / "rt")}
    ctys = [sys.executable, "-m", "ctys", "-t", "QEMU", "-a", "LIST"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        runtime = RuntimeDir(work / "rt")
        RuntimeDir(work / "rt0")
        foreign = _foreign_qemus()
        floor = wall([sys.executable, "-c", "pass"], args.runs)
        none = wall(ctys, args.runs, empty_env)
        for n in range(args.vms):
            procs.append(_stand_in(runtime, work / "vms", n))
        _wait_ready(procs, runtime)
        listed = subprocess.run(ctys, env=full_env, capture_output=True, text=True, check=False)
        missing = [n for n in range(args.vms) if f"lsb{n}-{n:04d}" not in listed.stdout]
        if missing:
            print(f"LIST misses stand-ins {missing}:\n{listed.stdout}{listed.stderr}")
            return 1
        full = wall(ctys, args.runs, full_env)
        base_none = med(none)
        print(
            f"LIST speed: {args.runs} runs each, {os.cpu_count()} CPUs,"
            f" {foreign} other qemus on the host (listed as unmanaged in every LIST)"
        )
        print("| what | min ms | median ms | max ms | ratio |")
        print("|---|---|---|---|---|")
        print(_row("python -c pass", floor, None))
        print(_row("LIST, no VM (vs python -c pass)", none, med(floor)))
        print(_row(f"LIST, {args.vms} running VMs (vs LIST, no VM)", full, base_none))
        r1 = (base_none or 0) / (med(floor) or 1)
        r2 = (med(full) or 0) / (base_none or 1)
        print(
            f"targets: no VM {r1:.2f}x (≤ 5x) {'PASS' if r1 <= 5 else 'MISS'};"
            f" {args.vms} VMs {r2:.2f}x (≤ 1.5x) {'PASS' if r2 <= 1.5 else 'MISS'}"
        )
        return 0
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
