"""Reading many conf files in worker processes: a first scan of thousands of VMs spends most
of its time parsing, and parsing is pure Python (one CPU per process).

The workers are forked: they inherit the list of files and the caller's functions (no
pickling of either); only each file's outcome travels back. Each takes a share
of the list (every n-th file); the outcomes are merged by path.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from typing import Any

# (files, reading, chunk function) of the read in progress, for the forked workers.
_JOB: tuple[Sequence[Any], Any, Callable[..., list[Any]]] | None = None


def cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def idle_cpus() -> int:
    """The CPUs not busy with other work (``cpus`` less the 1-minute load average): on a
    loaded machine worker processes only compete with the others and lose (measured:
    docs/performance.md)."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return max(1, cpus() - int(load + 0.5))


CpuTicks = tuple[int, int]
"""(idle + iowait, all) clock ticks of the machine's CPUs since boot (``/proc/stat``)."""


def cpu_ticks() -> CpuTicks | None:
    """The machine's ``CpuTicks`` now; None without ``/proc/stat``."""
    try:
        fd = os.open("/proc/stat", os.O_RDONLY | os.O_CLOEXEC)
        try:
            first = os.read(fd, 512).split(b"\n", 1)[0].split()  # the "cpu" line: all CPUs
        finally:
            os.close(fd)
    except OSError:
        return None
    if len(first) < 9 or first[0] != b"cpu":
        return None
    try:
        # user nice system idle iowait irq softirq steal (guest time is in user already)
        ticks = [int(field) for field in first[1:9]]
    except ValueError:
        return None
    return ticks[3] + ticks[4], sum(ticks)


def workers_since(before: CpuTicks | None, after: CpuTicks | None = None) -> int:
    """How many processes should read: this one and one for each CPU that sat idle from
    ``before`` to ``after`` (default: now) while this process worked — a walk of the
    folders, which keeps one CPU busy — at most ``cpus()``. Measured over the walk it sees
    other work as it is now, where the 1-minute load average still counts this command's
    own past and that of the one before it. Without ``/proc/stat``, or over under about
    50 ms of ticks, ``idle_cpus``."""
    if after is None:
        after = cpu_ticks()
    online = os.cpu_count() or 1
    if before is None or after is None or after[1] - before[1] < 5 * online:
        return idle_cpus()
    idle, total = after[0] - before[0], after[1] - before[1]
    spare = idle / total * online
    return max(1, min(cpus(), 1 + int(spare + 0.25)))  # a CPU idle at least 3/4 of the time


def read_in_workers(
    todo: Sequence[Any], reading: Any, chunk: Callable[[Sequence[Any], Any], list[Any]]
) -> dict[Any, Any]:
    """``chunk(part, reading)`` for parts of ``todo`` in ``reading.workers`` processes,
    merged into one dict of its ``(key, value)`` pairs."""
    global _JOB
    workers = max(1, min(reading.workers, cpus(), len(todo)))
    # Every workers-th file each: VM confs and others are not spread evenly along the walk.
    parts = [(first, workers) for first in range(workers)]
    _JOB = (todo, reading, chunk)
    # The parent's objects out of the workers' garbage collection: a collection touches every
    # object, so every page of the inherited heap would be copied.
    gc.freeze()
    try:
        pool = multiprocessing.get_context("fork").Pool(workers, initializer=_quiet)
        try:
            results = pool.map(_work, parts, chunksize=1)
            pool.close()  # the workers end by themselves
        finally:
            pool.terminate()
            pool.join()
    finally:
        _JOB = None
        gc.unfreeze()
    return {key: value for part in results for key, value in part}


def _quiet() -> None:
    # The caller's handlers (Ctrl-C, SIGTERM -> an exception and its traceback) are not the
    # workers': they just end, and the caller tells.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _work(share: tuple[int, int]) -> list[Any]:
    assert _JOB is not None  # set before the fork
    todo, reading, chunk = _JOB
    first, step = share
    return chunk(todo[first::step], reading)
