"""Benchmark: how much does ctys add to booting a VM, and how fast does the CLI start?

Run as ``.venv/bin/python bench/boot_overhead.py [--runs N]``.  Three measurements (and with
``--real`` the time to a usable real guest instead: see ``realboot.py``):

1. CREATE overhead: ``ctys -t QEMU -a CREATE=l:bench,CONSOLE:CLI -b 1`` versus bare
   ``qemu-system-x86_64`` started with the very argv ctys recorded in ``state.json`` (its
   runtime paths moved to a fresh private dir of the same shape).  Both are timed from the
   moment the process is launched to (a) qemu opening ``console.log``, (b) the guest's first
   serial line and (c) ``CTYS-GUEST-READY``, by polling ``console.log`` every millisecond.
   The variants alternate so that drift in host load hits them alike.  A third variant,
   the floor, is what any Python launcher costs: the interpreter parses the conf with
   ctys's parser and execs the same argv (``FLOOR_SCRIPT``); its table says how much of
   CREATE's overhead is that floor and how much is ctys's own work above it.
2. CLI start-up: ``ctys -h`` versus ``python -c pass`` (same interpreter).
3. ``ctys -t QEMU -a LIST`` with the one VM running (informative).

It is a benchmark, not a test: failures are reported, never raised.  Every qemu it starts is
stopped again, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benchlib import become_subreaper, med, ms, qemu_pids, wall
from ctys.plugins.qemu.images.build import build_guest

LABEL = "bench"
READY = b"CTYS-GUEST-READY"
POLL = 0.001
BOOT_TIMEOUT = 120.0
TARGET_RATIO = 1.05  # issue 15: the guest's first serial line
TARGET_LOG_MS = 30.0  # issue 15: ctys may add this much before qemu opens its console log
TARGET_HELP_MS = 150.0

# Wide enough for the tables when stdout is not a terminal (rich would assume 80).
console = Console(width=None if sys.stdout.isatty() else 120)


# --- process bookkeeping -------------------------------------------------------------------


def gone(pid: int) -> bool:
    """True when ``pid`` has ended (reaping it if it is our child or adopted orphan)."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return True
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def kill_qemu(pid: int, work: Path) -> None:
    """SIGKILL ``pid`` if it is a qemu of ours (its argv names our work dir), wait until gone."""
    try:
        cmdline = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return
    if str(work) not in cmdline:
        return  # pid reused by somebody else's process: not ours to kill
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10.0
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


@dataclass
class Bench:
    """The private work dir with the conf, and every runtime dir / process started in it."""

    work: Path
    ctys: list[str]
    bytecode_cache: bool = True
    conf: Path = field(init=False)
    runtimes: list[Path] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _seq: int = 0

    def __post_init__(self) -> None:
        self.conf = self.work / "vms" / LABEL / f"{LABEL}.conf"

    def fresh_runtime(self, kind: str) -> Path:
        """A new, empty private runtime dir (mode 0700, as ctys requires)."""
        self._seq += 1
        path = self.work / f"rt-{kind}-{self._seq}"
        path.mkdir(mode=0o700)
        self.runtimes.append(path)
        return path

    def env(self, runtime: Path | None = None) -> dict[str, str]:
        """Environment of every timed Python child (ctys and the baseline alike)."""
        env = dict(os.environ)
        if self.bytecode_cache:
            # As after a normal install: compiled bytecode is reused.  The cache goes to our
            # work dir, so nothing is written into the source tree even when the caller's
            # environment forbids writing bytecode (PYTHONDONTWRITEBYTECODE).
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(self.work / "pycache")
        if runtime is None:
            return env
        env.update(
            CTYS_VMPATH=str(self.work / "vms"),
            CTYS_RUNTIME_DIR=str(runtime),
            # Its own (absent) inventory: the label resolves by scanning the bench's folder,
            # whatever the user's inventory holds.
            CTYS_INVENTORY=str(self.work / "inventory.sqlite"),
            CTYS_ACCEL="tcg",
        )
        return env

    def stop_all(self, runtime: Path) -> None:
        """Kill every qemu recorded in ``runtime`` and drop the dir."""
        for pid in qemu_pids(runtime):
            kill_qemu(pid, self.work)
        shutil.rmtree(runtime, ignore_errors=True)

    def cleanup(self) -> None:
        """Stop everything this benchmark started: ctys processes, qemus, adopted orphans."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
        for runtime in self.runtimes:
            self.stop_all(runtime)
        # Orphaned qemus of ours were re-parented to us (subreaper): last safety net.
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process().children(recursive=True):
                kill_qemu(child.pid, self.work)


def ctys_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m ctys``."""
    script = Path(sys.executable).parent / "ctys"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ctys"]


def write_conf(bench: Bench) -> None:
    """The conf of the tiny test guest (built and cached by ``build_guest``)."""
    guest = build_guest()
    bench.conf.parent.mkdir(parents=True, exist_ok=True)
    bench.conf.write_text(
        "\n".join(
            [
                "#@#MAGICID-QEMU",
                f"#@#LABEL = {LABEL}",
                "#@#ACCELERATOR = TCG",
                "#@#MEMSIZE = 256",
                f"KERNEL={guest.kernel}",
                f"INITRD={guest.initrd}",
                'APPEND="console=ttyS0 panic=-1"',
                "",
            ]
        )
    )


# --- one boot ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Boot:
    """Seconds from launch to each event; ``None`` when it did not happen."""

    log_open: float | None
    first_line: float | None
    ready: float | None
    error: str = ""


def _find_log(runtime: Path) -> Path | None:
    with contextlib.suppress(OSError):
        for entry in os.scandir(runtime / "vms"):
            log = Path(entry.path) / "console.log"
            if log.exists():
                return log
    return None


def watch_console(runtime: Path, t0: float, failed: Callable[[], str]) -> Boot:
    """Poll the VM's console.log (1 ms) for its creation, the first b"\\n" and READY.
    ``failed`` returns a non-empty reason when the launched process has given up."""
    log_open = first = None
    handle = None
    buf = bytearray()
    searched = 0
    try:
        while True:
            now = time.perf_counter()
            if handle is None:
                path = _find_log(runtime)
                if path is not None:
                    handle = path.open("rb")
                    log_open = now - t0
            if handle is not None:
                chunk = handle.read()
                if chunk:
                    buf += chunk
                    if first is None and b"\n" in buf:
                        first = now - t0
                    if buf.find(READY, max(0, searched - len(READY))) >= 0:
                        return Boot(log_open, first, now - t0)
                    searched = len(buf)
            reason = failed()
            if reason:
                return Boot(log_open, first, None, reason)
            if now - t0 > BOOT_TIMEOUT:
                return Boot(log_open, first, None, f"no {READY.decode()} in {BOOT_TIMEOUT:g}s")
            time.sleep(POLL)
    finally:
        if handle is not None:
            handle.close()


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        lines = path.read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""
    return ""


def boot_ctys(bench: Bench) -> tuple[Boot, Path, float | None]:
    """CREATE via the ctys CLI in a fresh runtime dir. Returns the timings, the runtime dir
    (VM still running) and how long the ctys process itself took to return."""
    runtime = bench.fresh_runtime("ctys")
    out = runtime.parent / f"{runtime.name}.out"
    argv = [*bench.ctys, "-t", "QEMU", "-a", f"CREATE=l:{LABEL},CONSOLE:CLI", "-b", "1"]
    with out.open("wb") as sink:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
            env=bench.env(runtime),
        )  # fmt: skip
    bench.procs.append(proc)
    returned: list[float] = []

    def failed() -> str:
        code = proc.poll()
        if code is None:
            return ""
        if not returned:
            returned.append(time.perf_counter() - t0)
        return f"ctys exited {code}: {_tail(out)}" if code != 0 else ""

    result = watch_console(runtime, t0, failed)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
    failed()
    return result, runtime, returned[0] if returned else None


def bare_argv(template: list[str], old_vmdir: str, new_vmdir: Path) -> list[str]:
    """ctys's recorded argv with its runtime folder replaced by ``new_vmdir``."""
    return [arg.replace(old_vmdir, str(new_vmdir)) for arg in template]


def boot_bare(bench: Bench, template: list[str], old_vmdir: str) -> tuple[Boot, Path]:
    """The same qemu argv launched directly (as ctys launches it: new session, log file)."""
    return _boot_direct(bench, "bare", template, old_vmdir, [], None)


# The floor of any Python launcher: start the interpreter, parse the conf with ctys's
# parser (nothing else of ctys), then exec qemu with ctys's argv. What CREATE adds above it
# is its own work (CLI, resolution, checks, record); below it nothing Python can go.
FLOOR_SCRIPT = """\
import os, sys
from pathlib import Path
from ctys.conf.lenient import read_vm_conf
read_vm_conf(Path(sys.argv[1]))
os.execv(sys.argv[2], sys.argv[2:])
"""


def boot_floor(bench: Bench, template: list[str], old_vmdir: str) -> tuple[Boot, Path]:
    """``python -c FLOOR_SCRIPT``: parse the conf, exec the same qemu argv (as bare)."""
    launcher = [sys.executable, "-c", FLOOR_SCRIPT, str(bench.conf)]
    return _boot_direct(bench, "floor", template, old_vmdir, launcher, bench.env())


def _boot_direct(
    bench: Bench,
    kind: str,
    template: list[str],
    old_vmdir: str,
    launcher: list[str],
    env: dict[str, str] | None,
) -> tuple[Boot, Path]:
    """qemu with ctys's argv in a fresh runtime dir, run by ``launcher`` (none: itself)."""
    runtime = bench.fresh_runtime(kind)
    vmdir = runtime / "vms" / Path(old_vmdir).name
    vmdir.mkdir(mode=0o700, parents=True)
    argv = [*launcher, *bare_argv(template, old_vmdir, vmdir)]
    with (vmdir / "qemu.log").open("wb") as sink:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True, env=env,
        )  # fmt: skip
    bench.procs.append(proc)

    def failed() -> str:
        code = proc.poll()
        return f"{kind} exited {code}: {_tail(vmdir / 'qemu.log')}" if code is not None else ""

    return watch_console(runtime, t0, failed), runtime


def cancel_ctys(bench: Bench, runtime: Path) -> float | None:
    """Stop the VM with ``CANCEL=...,FORCE`` (timed), then make sure it is really gone."""
    pids = qemu_pids(runtime)
    argv = [*bench.ctys, "-t", "QEMU", "-a", f"CANCEL=l:{LABEL},FORCE"]
    t0 = time.perf_counter()
    proc = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, env=bench.env(runtime), check=False,
        timeout=60,
    )  # fmt: skip
    took = time.perf_counter() - t0 if proc.returncode == 0 else None
    if proc.returncode != 0:
        console.print(f"[yellow]CANCEL failed ({proc.returncode}): {escape(proc.stderr.decode())}")
    for pid in pids:
        kill_qemu(pid, bench.work)
    bench.stop_all(runtime)
    return took


# --- simple wall-clock timings -------------------------------------------------------------


# --- reporting -----------------------------------------------------------------------------


def low(values: list[float]) -> float | None:
    return min(values) if values else None


def pick(boots: list[Boot], attr: str) -> list[float]:
    return [v for b in boots if (v := getattr(b, attr)) is not None]


@dataclass(frozen=True)
class Verdict:
    name: str
    ok: bool | None
    detail: str


def spread(values: list[float]) -> str:
    """min/median/max in ms for one table cell."""
    if not values:
        return "—"
    return f"{ms(min(values))}/{ms(med(values))}/{ms(max(values))}"


def ratio_row(table: Table, name: str, a: list[float], b: list[float]) -> Verdict:
    ma, mb = med(a), med(b)
    if ma is None or mb is None or mb <= 0:
        table.add_row(name, spread(a), spread(b), "—", "—", "—")
        return Verdict(name, None, "no data")
    ratio = ma / mb
    la, lb = min(a), min(b)
    table.add_row(
        name,
        spread(a),
        spread(b),
        f"{ratio:.3f}",
        f"{la / lb:.3f}" if lb > 0 else "—",
        f"{(ma - mb) * 1000:+.0f}",
    )
    detail = (
        f"ctys {ma * 1000:.0f} ms vs bare {mb * 1000:.0f} ms: ratio {ratio:.3f}"
        f" ({(ratio - 1) * 100:+.1f}%, {(ma - mb) * 1000:+.0f} ms; target <= {TARGET_RATIO:.2f})"
    )
    return Verdict(name, ratio <= TARGET_RATIO, detail)


def floor_table(ctys: list[Boot], bare: list[Boot], floor: list[Boot]) -> None:
    """What any Python launcher costs (``FLOOR_SCRIPT``) against bare qemu and CREATE."""
    table = Table(title="The floor: python + conf parse + exec qemu (ms from launch, median)")
    for col in ("event", "floor min/med/max", "floor - bare", "ctys - floor"):
        table.add_column(col, justify="right" if col != "event" else "left")
    for name, attr in (
        ("qemu opened console.log", "log_open"),
        ("first serial line", "first_line"),
    ):
        fl, ba, ct = med(pick(floor, attr)), med(pick(bare, attr)), med(pick(ctys, attr))
        over = f"{(fl - ba) * 1000:+.0f}" if fl is not None and ba is not None else "—"
        above = f"{(ct - fl) * 1000:+.0f}" if ct is not None and fl is not None else "—"
        table.add_row(name, spread(pick(floor, attr)), over, above)
    console.print(table)


def boot_table(ctys: list[Boot], bare: list[Boot], returns: list[float]) -> list[Verdict]:
    table = Table(title=f"CREATE vs bare qemu (TCG, {len(ctys)}/{len(bare)} runs; ms from launch)")
    for col in ("event", "ctys min/med/max", "bare min/med/max"):
        table.add_column(col, justify="right" if col != "event" else "left")
    table.add_column("ratio (median)", justify="right")
    table.add_column("ratio (min)", justify="right")
    table.add_column("overhead ms (median)", justify="right")
    log_open = ratio_row(
        table, "qemu opened console.log", pick(ctys, "log_open"), pick(bare, "log_open")
    )
    first = ratio_row(
        table, "first serial line", pick(ctys, "first_line"), pick(bare, "first_line")
    )
    ready = ratio_row(table, READY.decode(), pick(ctys, "ready"), pick(bare, "ready"))
    table.add_row("ctys CREATE process returned", spread(returns), "")
    console.print(table)
    return [_delta_verdict(log_open, ctys, bare), first, ready]


def _delta_verdict(row: Verdict, ctys: list[Boot], bare: list[Boot]) -> Verdict:
    """qemu opening its console log: judged by the added milliseconds (median), not a ratio."""
    mc, mb = med(pick(ctys, "log_open")), med(pick(bare, "log_open"))
    if mc is None or mb is None:
        return row
    added = (mc - mb) * 1000
    detail = (
        f"{row.detail.split(':')[0]}: ctys adds {added:+.0f} ms (target <= +{TARGET_LOG_MS:.0f})"
    )
    return Verdict(row.name, added <= TARGET_LOG_MS, detail)


def cli_table(
    help_t: list[float], py_t: list[float], list_t: list[float], cancel_t: list[float]
) -> Verdict:
    table = Table(title="CLI wall time (ms)")
    for col in ("command", "runs", "median", "min", "max"):
        table.add_column(col, justify="left" if col == "command" else "right")
    for name, vals in (
        (f"{Path(sys.executable).name} -c pass (baseline)", py_t),
        ("ctys -h", help_t),
        ("ctys -t QEMU -a LIST (1 VM running)", list_t),
        (f"ctys -t QEMU -a CANCEL=l:{LABEL},FORCE", cancel_t),
    ):
        top = max(vals) if vals else None
        table.add_row(name, str(len(vals)), ms(med(vals)), ms(low(vals)), ms(top))
    console.print(table)
    mh, mp = med(help_t), med(py_t)
    if mh is None or mp is None:
        return Verdict("ctys -h", None, "no data")
    return Verdict(
        "ctys -h start-up",
        mh * 1000 < TARGET_HELP_MS,
        f"median {mh * 1000:.0f} ms (python baseline {mp * 1000:.0f} ms, ctys adds"
        f" {(mh - mp) * 1000:.0f} ms; target < {TARGET_HELP_MS:.0f} ms)",
    )


def print_verdicts(verdicts: list[Verdict]) -> None:
    for v in verdicts:
        tag = {True: "[green]PASS", False: "[red]FAIL", None: "[yellow]N/A "}[v.ok]
        console.print(f"{tag}[/] {v.name}: {v.detail}")


# --- main ----------------------------------------------------------------------------------


@contextlib.contextmanager
def work_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ctys-bench-"))  # mode 0700
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run(bench: Bench, runs: int, quick: bool = False) -> list[Verdict]:
    """All measurements; returns one verdict per target."""
    write_conf(bench)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    cache = "cached in work dir" if bench.bytecode_cache else "as the environment says"
    console.print(
        f"[dim]work dir {bench.work}; ctys = {' '.join(bench.ctys)}; bytecode {cache};"
        f" {os.cpu_count()} CPUs, load {load}"
    )

    # 2. CLI start-up first, while no VM of ours eats CPU.
    reps = 2 if quick else 20
    py_t = wall([sys.executable, "-c", "pass"], reps, bench.env())
    help_t = wall([*bench.ctys, "-h"], reps, bench.env())

    # Warm-up CREATE: fills caches and gives us the argv ctys uses.
    warm, runtime, _ = boot_ctys(bench)
    states = list((runtime / "vms").glob("*/state.json"))
    template: list[str] = json.loads(states[0].read_text())["argv"] if states else []
    old_vmdir = str(states[0].parent) if states else ""
    cancel_t: list[float] = []
    cancel_ctys(bench, runtime)
    if warm.error or not template:
        console.print(f"[red]warm-up CREATE failed: {escape(warm.error or 'no state.json')}")
        return [Verdict("CREATE", None, "warm-up failed")]
    console.print(f"[dim]qemu argv: {escape(' '.join(template))}", soft_wrap=True)
    _, rt = boot_bare(bench, template, old_vmdir)  # warm-up for the bare variant too
    bench.stop_all(rt)

    ctys_boots: list[Boot] = []
    bare_boots: list[Boot] = []
    floor_boots: list[Boot] = []
    returns: list[float] = []
    for i in range(runs):
        boot, rt, ret = boot_ctys(bench)
        took = cancel_ctys(bench, rt)
        if took is not None:
            cancel_t.append(took)
        if ret is not None:
            returns.append(ret)
        b_boot, rt = boot_bare(bench, template, old_vmdir)
        bench.stop_all(rt)
        f_boot, rt = boot_floor(bench, template, old_vmdir)
        bench.stop_all(rt)
        floor_boots.append(f_boot)
        for kind, b in (("ctys", boot), ("bare", b_boot), ("floor", f_boot)):
            if b.error:
                console.print(f"[yellow]run {i + 1} {kind}: {escape(b.error)}")
        ctys_boots.append(boot)
        bare_boots.append(b_boot)
        console.print(
            f"[dim]run {i + 1}/{runs}: first line ctys {ms(boot.first_line)} / bare"
            f" {ms(b_boot.first_line)} ms; ready ctys {ms(boot.ready)} / bare {ms(b_boot.ready)} ms"
        )

    # 3. LIST with one VM running.
    _, rt, _ = boot_ctys(bench)
    list_t = wall([*bench.ctys, "-t", "QEMU", "-a", "LIST"], 1 if quick else 10, bench.env(rt))
    cancel_ctys(bench, rt)

    verdicts = boot_table(ctys_boots, bare_boots, returns)
    floor_table(ctys_boots, bare_boots, floor_boots)
    verdicts.append(cli_table(help_t, py_t, list_t, cancel_t))
    return verdicts


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="boots per variant (default 5)")
    parser.add_argument(
        "--quick", action="store_true", help="one boot per variant, few CLI runs (seconds)"
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="do not cache .pyc files (keep PYTHONDONTWRITEBYTECODE if set): every ctys"
        " run compiles its modules again",
    )
    parser.add_argument(
        "--real",
        action="store_true",
        help="time the real system guest instead (Debian 12 from its disk: login prompt,"
        " first ssh, graceful stop; bench/realboot.py); --runs default 2",
    )
    args = parser.parse_args()
    become_subreaper()
    if args.real:
        return _run_real(args.runs if "--runs" in sys.argv else 2)
    # SIGTERM (timeout, kill) cleans up like Ctrl-C does: the finally below stops the VMs.
    signal.signal(signal.SIGTERM, _interrupted)
    with work_dir() as work:
        bench = Bench(work, ctys_command(), bytecode_cache=not args.no_bytecode_cache)
        try:
            runs = 1 if args.quick else max(1, args.runs)
            verdicts = run(bench, runs, quick=args.quick)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted; stopping VMs")
            return 130
        finally:
            bench.cleanup()
    print_verdicts(verdicts)
    # A quick run checks that the bench runs; one boot says nothing about the targets.
    return 0 if args.quick or all(v.ok for v in verdicts) else 1


def _run_real(runs: int) -> int:
    from realboot import run_real

    signal.signal(signal.SIGTERM, _interrupted)
    with work_dir() as work:
        try:
            ok = run_real(work, ctys_command(), dict(os.environ), max(1, runs), console)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted; stopping VMs")
            return 130
        finally:
            for child in psutil.Process().children(recursive=True):
                kill_qemu(child.pid, work)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
