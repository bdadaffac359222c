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

Also printed: ``ctys -h`` against ``python -c pass`` (the CLI's own start-up, which every
command pays before its plugin loads), and for each row the CPU time (user + system), which
a loaded shared machine moves far less than the wall time. Two bound rows say what the
start-up of LIST with no VM is made of: ``python -c "import ..."`` of the standard-library
modules LIST loads (beyond those of ``python -c pass``: dataclasses with inspect, re,
pathlib, typing, enum...), and of those plus every ctys module it loads, nothing run; a
third, LIST with no VM in a process that has loaded qemu.qmp (asyncio), says what the N
monitors cost before one is asked. The last row is the N-VM LIST again with ``--confs``
other VMs' confs under the VM path: LIST reads the confs its runtime records name and does
not scan the folders for the VMs ctys started, so it should cost about the same.

Two phases: the "no VM" rows (and ``ctys -h``, the bounds) run before the stand-ins start,
since LIST lists every running qemu (one not in its runtime dir as unmanaged: before
2026-12-02 the "no VM" row ran beside the N stand-ins and so listed N unmanaged qemus); then
LIST of the N VMs and ``python -c pass`` again. Within a phase the rows run round-robin,
one run of each per round, so each ratio compares runs made under the same load; the VMs'
ratio is also printed with each phase's floor taken out.

Other qemus on the host (other users' VMs, other tests) are in every LIST measurement: LIST
reads every process's command line and lists foreign qemus too (and then reads the confs
to name them); their count is printed. Every qemu this bench started is killed again, also
on failure or Ctrl-C. ``--quick``: 2 VMs, one run.
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

from benchlib import become_subreaper, child_env, med, ms, run_quiet, wall_and_cpu
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


def _other_confs(folder: Path, count: int) -> Path:
    """``count`` VM folders with a conf each under ``folder`` (VMs that do not run)."""
    for n in range(count):
        vm = folder / f"pool{n // 100:03d}" / f"other{n:05d}"
        vm.mkdir(parents=True)
        (vm / f"other{n:05d}.conf").write_text(
            f"#@#MAGICID-QEMU\n#@#LABEL = other{n:05d}\n#@#UUID = {n:08x}-0000-4000-8000-"
            f"000000000000\n#@#MAC = 52:54:01:00:{n // 256 % 256:02x}:{n % 256:02x}\n"
            "KERNEL=vmlinuz\nMEMSIZE=512\n"
        )
    return folder


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


# Runs LIST with no VM in-process and prints the modules it loaded (the bound rows).
_MODULES_OF_LIST = (
    "import contextlib, io, sys\n"
    "from ctys.cli.main import main\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    main(['-t', 'QEMU', '-a', 'LIST'])\n"
    "print(' '.join(sorted(sys.modules)))\n"
)
_LIST_WITH_QMP_LOADED = (
    "import sys\n"
    "import qemu.qmp\n"
    "from ctys.cli.main import main\n"
    "sys.exit(main(['-t', 'QEMU', '-a', 'LIST']))\n"
)
_MODULES_OF_PASS = "import sys; print(' '.join(sorted(sys.modules)))"


def _import_only(env: dict[str, str]) -> tuple[str, str]:
    """``python -c`` programs importing what LIST with no VM loads and nothing else: the
    standard library's modules alone, and those with every ctys module."""

    def modules(program: str) -> set[str]:
        argv = [sys.executable, "-c", program]
        return set(subprocess.run(argv, env=env, capture_output=True, text=True).stdout.split())

    loaded = modules(_MODULES_OF_LIST) - modules(_MODULES_OF_PASS) - {"__main__"}
    ours = sorted(m for m in loaded if m == "ctys" or m.startswith("ctys."))
    stdlib = sorted(loaded - set(ours) | {"re"})  # the entry-point script imports re
    return f"import {', '.join(stdlib)}", f"import {', '.join([*stdlib, *ours])}"


def _round_robin(
    cases: dict[str, tuple[list[str], dict[str, str]]], runs: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU times of ``runs`` rounds of ``cases``, one run of each per round, after a
    warm-up run of each (bytecode caches, page cache)."""
    walls: dict[str, list[float]] = {k: [] for k in cases}
    cpus: dict[str, list[float]] = {k: [] for k in cases}
    for argv, case_env in cases.values():
        run_quiet(argv, case_env)
    for _ in range(runs):
        for name, (argv, case_env) in cases.items():
            wall_s, cpu_s = wall_and_cpu(argv, 1, case_env, warm_up=False)
            walls[name] += wall_s
            cpus[name] += cpu_s
    return walls, cpus


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=20)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--confs", type=int, default=2000, help="other VMs' confs under the VM path (last row)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run for CI: tiny sizes, one run"
    )
    args = parser.parse_args()
    if args.quick:
        args.vms, args.runs, args.confs = 2, 1, 20
    if shutil.which(_QEMU) is None:
        print(f"bench/list_speed.py: no {_QEMU} on PATH", file=sys.stderr)
        return 1
    become_subreaper()
    work = Path(tempfile.mkdtemp(prefix="ctl", dir="/tmp"))  # short: UNIX socket paths
    # As a user runs it: with bytecode caches, in the bench's own folder (benchlib.child_env);
    # the warm-up run of each row writes them.
    env = {
        **child_env(work),
        "CTYS_VMPATH": str(work / "vms"),
        "CTYS_INVENTORY": str(work / "inventory.sqlite"),
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    (work / "vms").mkdir()
    empty_env = {**env, "CTYS_RUNTIME_DIR": str(work / "rt0")}
    full_env = {**env, "CTYS_RUNTIME_DIR": str(work / "rt")}
    script = Path(sys.executable).parent / "ctys"  # the entry point scripts/install.sh made
    entry = [str(script)] if script.exists() else [sys.executable, "-m", "ctys"]
    ctys = [*entry, "-t", "QEMU", "-a", "LIST"]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        runtime = RuntimeDir(work / "rt")
        RuntimeDir(work / "rt0")
        foreign = _foreign_qemus()
        stdlib_only, all_modules = _import_only(empty_env)
        # Phase 1, before the stand-ins start: a running qemu is listed by every LIST (as an
        # unmanaged VM when it is not in the LIST's runtime dir), so "no VM" must run while
        # none of ours runs. Round-robin, one run of each per round: a shared machine's load
        # changes by the minute, and so each ratio compares runs made under the same load.
        idle = {
            "floor": ([sys.executable, "-c", "pass"], env),
            "help": ([*entry, "-h"], empty_env),  # the CLI's own start-up, no plugin
            "none": (ctys, empty_env),
            "stdlib": ([sys.executable, "-c", stdlib_only], env),
            "imports": ([sys.executable, "-c", all_modules], empty_env),
            # What a LIST of running VMs cannot do without: the monitors are asked through
            # qemu.qmp, which is asyncio.
            "qmp": ([sys.executable, "-c", _LIST_WITH_QMP_LOADED], empty_env),
        }
        walls, cpus = _round_robin(idle, args.runs)
        for n in range(args.vms):
            procs.append(_stand_in(runtime, work / "vms", n))
        _wait_ready(procs, runtime)
        listed = subprocess.run(ctys, env=full_env, capture_output=True, text=True, check=False)
        # Each stand-in listed, its state read from its monitor (-S: "prelaunch").
        rows = [line.split() for line in listed.stdout.splitlines()]
        shown = {row[-2]: row[1] for row in rows if len(row) > 3 and row[0].startswith("lsb")}
        missing = [n for n in range(args.vms) if shown.get(f"lsb{n}-{n:04d}") != "prelaunch"]
        if missing:
            print(f"LIST misses stand-ins (or their state) {missing}:")
            print(listed.stdout + listed.stderr)
            return 1
        # Phase 2, the stand-ins running (idle: -S, no vCPU runs): LIST of them, with the
        # floor again, so the ratio to phase 1's "no VM" can be read at phase 1's load too.
        # And with the confs of many other VMs under the VM path: LIST reads the confs its
        # runtime records name, it does not scan the folders for VMs ctys started.
        big_env = {**full_env, "CTYS_VMPATH": str(_other_confs(work / "big", args.confs))}
        busy_walls, busy_cpus = _round_robin(
            {
                "floor2": ([sys.executable, "-c", "pass"], env),
                "full": (ctys, full_env),
                "big": (ctys, big_env),
            },
            args.runs,
        )
        walls.update(busy_walls)
        cpus.update(busy_cpus)
        print(
            f"LIST speed: {args.runs} runs each (round-robin per phase), {os.cpu_count()} CPUs,"
            f" load {os.getloadavg()[0]:.2f}, {foreign} other qemus on the host (listed as"
            " unmanaged in every LIST)"
        )
        print("| what | wall min / median / max ms | ratio | CPU median ms | CPU ratio |")
        print("|---|---|---|---|---|")
        labels = {
            "floor": "python -c pass",
            "help": "ctys -h (vs python -c pass)",
            "none": "LIST, no VM (vs python -c pass)",
            "stdlib": "bound: LIST's standard-library modules imported (vs python -c pass)",
            "imports": "bound: those and LIST's ctys modules imported, nothing run",
            "qmp": "bound: LIST, no VM, with qemu.qmp (asyncio) loaded (vs LIST, no VM)",
            "floor2": "python -c pass, while the stand-ins run",
            "full": f"LIST, {args.vms} running VMs (vs LIST, no VM)",
            "big": f"the same, {args.confs:,} other VMs' confs under the VM path (vs the same)",
        }
        base = {
            "floor": None, "help": "floor", "none": "floor", "stdlib": "floor",
            "imports": "floor", "qmp": "none", "floor2": "floor", "full": "none", "big": "full",
        }  # fmt: skip
        ratios: dict[str, float] = {}
        for name, label in labels.items():
            ref = base[name]
            w, c = walls[name], cpus[name]
            ratio = cratio = "—"
            if ref is not None:
                ratios[name] = (med(w) or 0) / (med(walls[ref]) or 1)
                ratio = f"{ratios[name]:.2f}x"
                cratio = f"{(med(c) or 0) / (med(cpus[ref]) or 1):.2f}x"
            print(
                f"| {label} | {ms(min(w), 1)} / {ms(med(w), 1)} / {ms(max(w), 1)} | {ratio}"
                f" | {ms(med(c), 1)} | {cratio} |"
            )
        # The phases ran at different moments: the VMs' ratio also with each side divided
        # by its own phase's floor.
        floors = (med(walls["floor2"]) or 1) / (med(walls["floor"]) or 1)
        taken_out = ratios["full"] / floors
        print(f"{args.vms}-VM ratio with each phase's floor taken out: {taken_out:.2f}x")
        r1, r2 = ratios["none"], ratios["full"]
        print(
            f"targets (wall medians): no VM {r1:.2f}x (≤ 5x) {'PASS' if r1 <= 5 else 'MISS'};"
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
