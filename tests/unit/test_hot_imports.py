"""The hot commands import only what they use: pinned per command, so it cannot regrow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_PROBE = (
    "import atexit, runpy, sys\n"
    "atexit.register(lambda: sys.stderr.write('MODS ' + ' '.join(sorted(sys.modules)) + '\\n'))\n"
    "sys.argv = ['ctys', *sys.argv[1:]]\n"
    "runpy.run_module('ctys', run_name='__main__')\n"
)


def _modules(tmp_path: Path, *args: str) -> set[str]:
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = dict(
        os.environ,
        CTYS_RUNTIME_DIR=str(runtime),
        CTYS_VMPATH=str(tmp_path / "vms"),
        CTYS_INVENTORY=str(tmp_path / "inv.sqlite"),
    )
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        env=env,
        capture_output=True,  # stdout is a pipe, never a terminal
        text=True,
        check=False,
    )
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODS "))
    return set(line.split()[1:])


def _tops(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


@pytest.mark.parametrize(
    "args",
    [
        ("-t", "QEMU", "-a", "LIST"),
        ("-t", "QEMU", "-a", "LIST=TERSE"),
        ("-t", "QEMU", "-a", "LIST=JSON"),
        ("-h",),
    ],
)
def test_list_and_help_off_a_terminal_do_not_import_rich(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    mods = _modules(tmp_path, *args)
    assert "ctys" in mods  # the probe really ran ctys
    assert "rich" not in _tops(mods)


def test_help_imports_no_plugin(tmp_path: Path) -> None:
    mods = _modules(tmp_path, "-h")
    assert not {m for m in mods if m.startswith("ctys.plugins.q")}  # the registry only
    assert not _tops(mods) & {"rich", "psutil", "sqlite3", "subprocess", "json"}
