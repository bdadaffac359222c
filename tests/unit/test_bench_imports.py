"""The benches run as a new user runs them: ``python bench/<x>.py`` from a fresh clone,
without PYTHONPATH or pytest's ``pythonpath`` setting (issue 15 point 6)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_fanout_bench_loads_the_ssh_hosts_without_pythonpath(tmp_path: Path) -> None:
    """bench/fanout.py loads tests/e2e/sshhosts.py (which imports ``support.procs``) from
    any working directory with a clean environment: the crash of issue 15 was
    ``ModuleNotFoundError`` here."""
    code = (
        # As ``python bench/fanout.py`` does: the script's own folder first on sys.path.
        f"import runpy, sys; sys.path.insert(0, {str(ROOT / 'bench')!r});"
        f" ns = runpy.run_path({str(ROOT / 'bench' / 'fanout.py')!r});"
        " m = ns['load_sshhosts'](); print(m.SshHosts.__name__)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env,
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SshHosts"
