"""Benchmark: LIST on 1 target versus LIST on 16 targets, over real OpenSSH.

Run as ``.venv/bin/python bench/fanout.py [--runs N] [--targets N]``.  It starts ``N + 1``
real sshd hosts on loopback with the machinery of the e2e tests (``tests/e2e/sshhosts.py``:
own host key, authorized key, VM folder and runtime dir each; no VMs running), then times

* ``ctys -t QEMU -a LIST hostA`` (one target) and
* ``ctys -t QEMU -a LIST hostA ... hostP`` (16 targets),

median of N runs each after one untimed warm-up, the two alternating so that drift in host
load hits both alike.  Two connection modes:

* **cold**: a fresh local ``CTYS_RUNTIME_DIR`` per run, so no ssh master connection
  (ControlMaster) is there to reuse: every target pays for a full ssh handshake;
* **warm**: one local runtime dir for all runs: ctys's ssh masters are reused.

Each target answers with the lean ``ctys-rows`` entry (issue 15 point 5); the same 16-target
LIST with ``CTYS_REMOTE_ROWS=off`` (each target runs ``ctys`` itself, as before) runs in
the same loop, and the CPU per target of both is judged against 0.08 CPU-s (warm).

Informative rows: ``ctys -t QEMU -a LIST`` locally, a bare ``ssh hostA true`` (cold), and
the floors with a reused master connection: ``ssh -o ControlPath=.. hostA true`` and
``ssh hostA <the remote ctys's python> -c pass``.  Note that the hosts' login shell is
this machine's account: its ``~/.bashrc`` runs for every ssh session.

Target: 16 targets take less than 2x the time of one (medians), in both modes.  Note that
all "hosts" share this machine's CPUs: the 16 remote ctys processes compete with each other,
which real hosts would not.  The CPU count is printed with the results.

It is a benchmark, not a test: failures are reported, never raised.  Every sshd it starts is
stopped again, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benchlib import ms

TARGET_RATIO = 2.0
TARGET_CPU = 0.08  # CPU-s per target, warm (issue 15 point 5)
RUN_TIMEOUT = 120.0
CPU_SETTLE = 0.3  # seconds for the hosts to reap a finished session before CPU is read

console = Console(width=None if sys.stdout.isatty() else 120)


def load_sshhosts() -> ModuleType:
    """The e2e tests' ssh host machinery, loaded from its file (tests/ is not a package).
    It imports the tests' ``support`` helpers, which pytest finds through its
    ``pythonpath`` setting: here the checkout's tests/ folder is put on the path the same
    way, so the bench runs from a fresh clone as it is (not only under pytest)."""
    tests = Path(__file__).resolve().parent.parent / "tests"
    for folder in (tests, tests / "e2e"):  # support/, and sshhosts.py's netlan.py
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    path = tests / "e2e" / "sshhosts.py"
    spec = importlib.util.spec_from_file_location("sshhosts", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["sshhosts"] = module
    spec.loader.exec_module(module)
    return module


def ctys_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m ctys``."""
    script = Path(os.path.abspath(sys.executable)).parent / "ctys"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ctys"]


@dataclass(frozen=True)
class Run:
    """One timed command: wall seconds, exit status, the last stderr line, and the CPU
    seconds it cost here (local children) and on the hosts (``nan`` when not measured)."""

    seconds: float
    returncode: int
    stderr: str
    cpu: float = math.nan


def children_cpu() -> float:
    """CPU seconds of this process's reaped children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_cpu(argv: list[str], env: dict[str, str], server_cpu: Callable[[], float]) -> Run:
    """``timed`` plus the CPU the command cost: local children and the ssh hosts' sessions
    (read again after a short pause, so that the sessions have been reaped)."""
    before = children_cpu() + server_cpu()
    run = timed(argv, env)
    time.sleep(CPU_SETTLE)
    return replace(run, cpu=children_cpu() + server_cpu() - before)


def timed(argv: list[str], env: dict[str, str]) -> Run:
    """Wall time of ``argv`` (stdout discarded)."""
    t0 = time.perf_counter()
    try:
        done = subprocess.run(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, env=env, timeout=RUN_TIMEOUT, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return Run(time.perf_counter() - t0, -1, f"timed out after {RUN_TIMEOUT:g}s")
    lines = done.stderr.strip().splitlines()
    return Run(time.perf_counter() - t0, done.returncode, lines[-1] if lines else "")


@dataclass
class Work:
    """The private work dir, the environment of the timed ctys and fresh local runtime dirs."""

    root: Path
    base_env: dict[str, str]
    _seq: int = 0

    def env(self, runtime: Path | None = None) -> dict[str, str]:
        if runtime is None:
            self._seq += 1
            runtime = self.root / f"rt{self._seq}"
        return {
            **self.base_env,
            "CTYS_RUNTIME_DIR": str(runtime),
            "CTYS_INVENTORY": str(self.root / "inventory.sqlite"),
            "CTYS_VMPATH": str(self.root / "vms"),
            "CTYS_ACCEL": "tcg",
        }


def measure(
    work: Work,
    ctys: list[str],
    targets: list[str],
    runs: int,
    warm: bool,
    server_cpu: Callable[[], float],
) -> tuple[list[Run], list[Run], list[Run]]:
    """Alternate LIST on ``targets[:1]`` and on all ``targets`` (each target answering with
    the lean ``ctys-rows``), and on all with ``CTYS_REMOTE_ROWS=off`` (each target runs
    ``ctys`` itself, as before issue 15); one warm-up of each."""
    shared = work.root / "rt-warm"
    one_argv = [*ctys, "-t", "QEMU", "-a", "LIST", *targets[:1]]
    all_argv = [*ctys, "-t", "QEMU", "-a", "LIST", *targets]
    one: list[Run] = []
    many: list[Run] = []
    full: list[Run] = []
    variants = ((one_argv, one, 1, {}), (all_argv, many, len(targets), {}))
    variants += ((all_argv, full, len(targets), {"CTYS_REMOTE_ROWS": "off"}),)
    for i in range(runs + 1):
        for argv, sink, n, extra in variants:
            env = {**work.env(shared if warm else None), **extra}
            run = timed_cpu(argv, env, server_cpu)
            if i:
                sink.append(run)
            if run.returncode != 0:
                console.print(
                    f"[yellow]LIST on {n} target(s) exited {run.returncode}: {escape(run.stderr)}"
                )
    return one, many, full


def ssh_floor(
    hosts: ModuleType,
    name: str,
    control: Path,
    command: list[str],
    runs: int,
    cpu: Callable[[], float],
) -> list[Run]:
    """``ssh`` with ctys's connection sharing (``ControlPath``), ``command`` on ``name``:
    a warm-up run opens the master, the timed runs reuse it, as a warm fan-out does."""
    argv = [
        "ssh", "-F", str(hosts.config), "-o", "BatchMode=yes", "-o", "ControlMaster=auto",
        "-o", f"ControlPath={control}/%C", "-o", "ControlPersist=60", name, "--", *command,
    ]  # fmt: skip
    env = dict(os.environ)
    runs_done = [timed_cpu(argv, env, cpu) for _ in range(runs + 1)]
    return runs_done[1:]


# --- reporting -----------------------------------------------------------------------------


def ok_times(runs: list[Run]) -> list[float]:
    return [r.seconds for r in runs if r.returncode == 0]


@dataclass(frozen=True)
class Verdict:
    name: str
    ok: bool | None
    detail: str


def add_rows(table: Table, name: str, runs: list[Run], targets: int = 1) -> None:
    times = ok_times(runs)
    failed = len(runs) - len(times)
    cpus = [r.cpu for r in runs if r.returncode == 0 and not math.isnan(r.cpu)]
    cpu = statistics.median(cpus) if cpus else None
    table.add_row(
        name,
        f"{len(times)}" + (f" (+{failed} failed)" if failed else ""),
        ms(statistics.median(times) if times else None),
        ms(min(times) if times else None),
        ms(max(times) if times else None),
        ms(cpu),
        ms(cpu / targets if cpu is not None else None),
    )


def cpu_verdict(mode: str, count: int, lean: list[Run], full: list[Run]) -> Verdict:
    """CPU per target (this machine's local and sshd-side CPU of the whole command, over
    the targets), lean rows vs ctys itself on the targets, against the issue's 0.08 CPU-s."""
    a = [r.cpu for r in lean if r.returncode == 0 and not math.isnan(r.cpu)]
    b = [r.cpu for r in full if r.returncode == 0 and not math.isnan(r.cpu)]
    name = f"{mode}: CPU per target of LIST on {count} targets"
    if not a or not b:
        return Verdict(name, None, "failed runs (see above)")
    per, before = statistics.median(a) / count, statistics.median(b) / count
    detail = (
        f"{per:.3f} CPU-s with ctys-rows vs {before:.3f} with ctys (ratio {per / before:.2f});"
        f" target <= {TARGET_CPU:.2f} (warm)"
    )
    return Verdict(name, per <= TARGET_CPU if mode == "warm" else None, detail)


def verdict(mode: str, count: int, one: list[Run], many: list[Run]) -> Verdict:
    a, b = ok_times(one), ok_times(many)
    name = f"{mode}: LIST on {count} targets vs 1"
    if not a or not b or len(b) < len(many):
        return Verdict(name, None if not b else False, "failed runs (see above)")
    ratio = statistics.median(b) / statistics.median(a)
    detail = (
        f"median {statistics.median(b) * 1000:.0f} ms vs {statistics.median(a) * 1000:.0f} ms:"
        f" ratio {ratio:.2f} (target < {TARGET_RATIO:.1f}); min ratio {min(b) / min(a):.2f}"
    )
    cpus = [r.cpu for r in many if not math.isnan(r.cpu)]
    ncpu = os.cpu_count() or 1
    if cpus:
        # The fan-out cannot beat the CPU its 16 remote sessions need on this machine's
        # CPUs; how close it gets says whether the targets really run in parallel.
        floor = statistics.median(cpus) / ncpu
        detail += (
            f"; CPU-bound floor here {floor * 1000:.0f} ms ({statistics.median(cpus):.2f}"
            f" CPU-s / {ncpu} CPUs) = {floor / statistics.median(b) * 100:.0f}% of the wall time"
        )
    return Verdict(name, ratio < TARGET_RATIO, detail)


def print_verdicts(verdicts: list[Verdict]) -> None:
    for v in verdicts:
        tag = {True: "[green]PASS", False: "[red]FAIL", None: "[yellow]N/A "}[v.ok]
        console.print(f"{tag}[/] {v.name}: {v.detail}")


# --- main ----------------------------------------------------------------------------------


def run(runs: int, count: int) -> list[Verdict]:
    sshhosts = load_sshhosts()
    ctys = ctys_command()
    work_root = Path(tempfile.mkdtemp(prefix="cf", dir="/tmp"))
    work = Work(work_root, dict(os.environ))
    hosts = sshhosts.SshHosts(ctys_bin=Path(ctys[0]) if len(ctys) == 1 else None)
    try:
        t0 = time.perf_counter()
        started = hosts.add(count)
        names = [h.name for h in started]
        console.print(
            f"[dim]{count} sshd hosts up in {time.perf_counter() - t0:.1f}s; ctys ="
            f" {' '.join(ctys)}; {os.cpu_count()} CPUs, load"
            f" {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        work.base_env.update(hosts.remote_env)
        (work.root / "vms").mkdir()

        cpu = hosts.server_cpu
        local_argv = [*ctys, "-t", "QEMU", "-a", "LIST"]
        local = [timed_cpu(local_argv, work.env(), cpu) for _ in range(runs)]
        bare = [timed_cpu(hosts.ssh_argv(names[0], "true"), work.env(), cpu) for _ in range(runs)]
        control = work.root / "cm"
        control.mkdir(mode=0o700)
        python = str(Path(hosts.ctys_bin).parent / "python")
        warm_true = ssh_floor(hosts, names[0], control, ["true"], runs, cpu)
        warm_python = ssh_floor(hosts, names[0], control, [python, "-c", "pass"], runs, cpu)

        verdicts = []
        table = Table(title=f"LIST fan-out over OpenSSH (wall ms, {runs} runs each)")
        columns = ("command", "runs", "median", "min", "max", "CPU ms (median)", "CPU ms/target")
        for col in columns:
            table.add_column(col, justify="left" if col == "command" else "right")
        add_rows(table, "local: ctys -t QEMU -a LIST", local)
        add_rows(table, f"bare: ssh {names[0]} true (cold)", bare)
        add_rows(table, f"floor: ssh -o ControlPath=.. {names[0]} true (warm)", warm_true)
        add_rows(table, f"floor: ssh (warm) {names[0]} python -c pass", warm_python)
        for mode, warm in (("cold", False), ("warm", True)):
            one, many, full = measure(work, ctys, names, runs, warm, hosts.server_cpu)
            add_rows(table, f"{mode}: LIST {names[0]}", one)
            add_rows(table, f"{mode}: LIST {names[0]} ... {names[-1]} ({count})", many, count)
            add_rows(table, f"{mode}: same, targets run ctys (ROWS=off)", full, count)
            verdicts.append(verdict(mode, count, one, many))
            verdicts.append(cpu_verdict(mode, count, many, full))
        console.print(table)
        return verdicts
    finally:
        hosts.close()
        shutil.rmtree(work_root, ignore_errors=True)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=10, help="timed runs per variant (10)")
    parser.add_argument("--targets", type=int, default=16, help="targets of the fan-out (16)")
    parser.add_argument("--quick", action="store_true", help="a smoke run for CI: 2 targets, 1 run")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.targets = 1, 2
    signal.signal(signal.SIGTERM, _interrupted)
    try:
        verdicts = run(max(1, args.runs), max(2, args.targets))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; sshd hosts stopped")
        return 130
    except (OSError, RuntimeError, subprocess.CalledProcessError) as exc:
        console.print(f"[red]cannot set up the ssh hosts: {escape(str(exc))}")
        return 1
    print_verdicts(verdicts)
    # A quick run checks that the bench runs; its tiny sizes say nothing about the targets.
    return 0 if args.quick or all(v.ok for v in verdicts) else 1


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
