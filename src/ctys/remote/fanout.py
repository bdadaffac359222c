"""Run one command per target concurrently, bounded, each with its own deadline.

A target's failure is data (``TargetResult.error``), never an exception: one dead or hanging
host must not block or abort the others. Every command runs in its own process group so a
deadline kills ssh and anything it started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ctys.errors import ExitStatus, UsageError
from ctys.invocation import Target
from ctys.remote.ssh import target_name

__all__ = [
    "RemoteSettings",
    "TargetResult",
    "classify",
    "run_on_targets",
    "worst_status",
]


@dataclass(frozen=True)
class RemoteSettings:
    """Fan-out limits: ``$CTYS_CONNECT_TIMEOUT`` (ssh connect, s), ``$CTYS_TARGET_TIMEOUT``
    (a whole target's command, s), ``$CTYS_MAX_PARALLEL`` (targets at once)."""

    connect_timeout: float = 10.0
    timeout: float = 600.0
    max_parallel: int = 16

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RemoteSettings:
        environ = os.environ if env is None else env
        default = cls()
        try:
            return cls(
                connect_timeout=float(environ.get("CTYS_CONNECT_TIMEOUT", default.connect_timeout)),
                timeout=float(environ.get("CTYS_TARGET_TIMEOUT", default.timeout)),
                max_parallel=max(1, int(environ.get("CTYS_MAX_PARALLEL", default.max_parallel))),
            )
        except ValueError as exc:
            raise UsageError(f"bad fan-out setting in the environment: {exc}") from None


ArgvBuilder = Callable[[Target], Sequence[str]]


@dataclass(frozen=True)
class TargetResult:
    """What one target's command did. ``error`` is a one-line reason when the command could
    not do its job at all (no connection, no ctys, timed out); ``None`` otherwise, even for
    a non-zero ``returncode`` (the remote ctys then said why on ``stderr``)."""

    target: str
    returncode: int
    stdout: str
    stderr: str
    error: str | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.error is None and self.returncode == 0


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def classify(returncode: int, stderr: str) -> str | None:
    """The per-target error for an exit status of the ssh command, or ``None`` when the
    remote ctys ran (whatever its status)."""
    if returncode == ExitStatus.SSH:
        return f"ssh failed: {_last_line(stderr) or 'exit 255'}"
    if returncode == ExitStatus.NOT_FOUND:
        detail = _last_line(stderr)
        return "ctys not found on the host" + (f" ({detail})" if detail else "")
    return None


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class _Runner:
    """Runs commands and remembers the live ones, so an interrupt can kill them all (the
    worker threads never see Ctrl-C: it goes to the main thread)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._live: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()

    def kill_all(self) -> None:
        with self._lock:
            for proc in self._live:
                _kill_group(proc)

    def run(self, target: Target, argv: Sequence[str]) -> TargetResult:
        name = target_name(target)
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                start_new_session=True,  # its own group: a deadline kills all it started
            )
        except OSError as exc:
            error = f"cannot run {argv[0]}: {exc.strerror}"
            return TargetResult(name, ExitStatus.NOT_FOUND, "", "", error, 0.0)
        with self._lock:
            self._live.add(proc)
        try:
            stdout, stderr = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            stdout, stderr = _drain(proc)
            error = f"no answer within {self.timeout:g}s (killed)"
            return TargetResult(
                name, ExitStatus.TIMEOUT, stdout, stderr, error, time.monotonic() - start
            )
        finally:
            with self._lock:
                self._live.discard(proc)
        seconds = time.monotonic() - start
        return TargetResult(
            name, proc.returncode, stdout, stderr, classify(proc.returncode, stderr), seconds
        )


def _drain(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """What a killed process wrote; a grandchild in another session may still hold the
    pipes open, so give up after a moment rather than wait for it."""
    try:
        return proc.communicate(timeout=2.0)
    except subprocess.TimeoutExpired:
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()
        return "", ""


def run_on_targets(
    targets: Sequence[Target],
    build_argv: ArgvBuilder,
    *,
    max_parallel: int = 16,
    timeout: float,
) -> list[TargetResult]:
    """Run ``build_argv(target)`` for every target, at most ``max_parallel`` at a time; each
    is killed after ``timeout`` seconds. Results come back in the order of ``targets``."""
    if not targets:
        return []
    argvs = [list(build_argv(t)) for t in targets]  # build errors surface before any run
    runner = _Runner(timeout)
    workers = max(1, min(max_parallel, len(targets)))
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [
            pool.submit(runner.run, target, argv)
            for target, argv in zip(targets, argvs, strict=True)
        ]
        return [f.result() for f in futures]
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        runner.kill_all()
        raise
    finally:
        pool.shutdown(wait=True)


def worst_status(results: Sequence[TargetResult]) -> int:
    """The overall exit status: the worst (highest) of the targets' statuses."""
    return max((r.returncode for r in results), default=0)
