"""The real ``ctys`` command line in a subprocess: the one runner every test uses."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping

Ctys = Callable[..., subprocess.CompletedProcess[str]]

# The interpreter running the tests, so the subprocess sees the same installed ctys.
CTYS = (sys.executable, "-m", "ctys")


def ctys_argv(*args: str) -> list[str]:
    """The argv that runs ``ctys args...`` (for tests that start it themselves, e.g. Popen)."""
    return [*CTYS, *args]


def run_ctys(
    *args: str,
    env: Mapping[str, str],
    timeout: float = 60,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``ctys args...`` with ``env``; text output captured, stdin ``stdin`` (else empty,
    never the terminal), no exception on a non-zero exit."""
    return subprocess.run(
        ctys_argv(*args),
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin if stdin is not None else "",
        check=False,
    )
