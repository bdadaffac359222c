"""The benches run as a new user runs them: ``python bench/<x>.py`` from a fresh clone,
without PYTHONPATH or pytest's ``pythonpath`` setting (issue 15 point 6)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_as_a_new_user(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -c code`` in ``cwd`` without PYTHONPATH, as a fresh clone's bench runs."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env,
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


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
    done = _run_as_a_new_user(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SshHosts"


BENCHES = sorted(p.name for p in (ROOT / "bench").glob("*.py"))


@pytest.mark.parametrize("name", BENCHES)
def test_every_bench_script_loads_with_the_names_it_imports(name: str, tmp_path: Path) -> None:
    """Each ``bench/*.py`` runs its top level (every import, every constant) without its
    ``main``: a bench importing a function that a refactoring removed fails here, in the
    unit suite, not only in CI's ``bench/quick.sh`` after the tests (stop 21's red CI was
    ``ImportError: cannot import name 'enumerate_local'`` in bench/inventory.py)."""
    code = (
        f"import runpy, sys; sys.path.insert(0, {str(ROOT / 'bench')!r});"
        f" runpy.run_path({str(ROOT / 'bench' / name)!r}, run_name='bench_load')"
    )
    done = _run_as_a_new_user(code, tmp_path)
    assert done.returncode == 0, done.stderr
