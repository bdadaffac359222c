"""Helpers shared by the benchmark scripts (timing, formatting, finding our qemus)."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import statistics
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


def become_subreaper() -> None:
    """Adopt orphans: qemu started by ctys outlives its parent; as subreaper we can reap it
    (no zombies left behind) and find it again on Ctrl-C.  Linux only; harmless elsewhere."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def qemu_pids(runtime: Path) -> list[int]:
    """Pids recorded in a runtime dir (``qemu.pid`` written by qemu, ``state.json`` by ctys)."""
    pids: set[int] = set()
    for vmdir in (runtime / "vms").glob("*"):
        with contextlib.suppress(OSError, ValueError):
            pids.add(int((vmdir / "qemu.pid").read_text().strip()))
        with contextlib.suppress(OSError, ValueError, TypeError):
            pid = json.loads((vmdir / "state.json").read_text()).get("pid")
            if isinstance(pid, int):
                pids.add(pid)
    return sorted(pids)


def run_quiet(argv: Sequence[str], env: dict[str, str] | None = None) -> int:
    """Run ``argv`` with every stream on /dev/null; its exit status."""
    return subprocess.run(
        list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, env=env, check=False,
    ).returncode  # fmt: skip


def wall(argv: Sequence[str], runs: int, env: dict[str, str] | None = None) -> list[float]:
    """Wall time of ``argv`` (output discarded), after one untimed warm-up run."""
    times: list[float] = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        run_quiet(argv, env)
        if i:
            times.append(time.perf_counter() - t0)
    return times


def wall_and_cpu(
    argv: Sequence[str], runs: int, env: dict[str, str] | None = None, *, warm_up: bool = True
) -> tuple[list[float], list[float]]:
    """Wall time and CPU time (user + system, of the process and its children) of each
    run of ``argv``, after one untimed warm-up run (unless ``warm_up`` is False). On a
    loaded shared machine the CPU time moves far less than the wall time."""
    walls: list[float] = []
    cpus: list[float] = []
    for i in range(runs + 1 if warm_up else runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        run_quiet(argv, env)
        elapsed = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i or not warm_up:
            walls.append(elapsed)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def ms(value: float | None, digits: int = 0) -> str:
    """Seconds as milliseconds for a table cell; "—" when there is no value."""
    return "—" if value is None else f"{value * 1000:.{digits}f}"


def med(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def child_env(work: Path, **extra: str) -> dict[str, str]:
    """Environment of every timed Python child: bytecode compiled once and cached in the
    work dir, as after a normal install (this shared machine sets PYTHONDONTWRITEBYTECODE,
    which makes every run compile every module it loads, +40..70 ms), plus ``extra``."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env.update(extra)
    return env
