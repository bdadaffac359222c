"""A child killed with SIGKILL at a point it announces: the crash-safety tests' one pattern."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence


def kill_9_at_midway(script: str, args: Sequence[str], meanwhile: Callable[[], None]) -> None:
    """Run the Python ``script`` with ``args`` until it prints ``midway``, call
    ``meanwhile`` (it still runs, stopped there), then ``kill -9`` it and check it died so."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "midway"
        meanwhile()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
