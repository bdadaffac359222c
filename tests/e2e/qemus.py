"""The qemu processes, VDE switches and LIST rows of one test, found by a marker: its runtime dir.

Other qemus run on the host while the tests run — the README's demo VM, other developers'
tests, a qemu started by hand, even with the same labels as the tests' VMs. A test selects
its own by its runtime dir (or by pids it knows), never by label or by the whole table.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path

import psutil

Row = dict[str, object]
Ctys = Callable[..., subprocess.CompletedProcess[str]]
# LIST columns that name a file inside the VM's runtime dir (a managed VM's sockets).
_PATH_FIELDS = ("QMP", "CONSOLE", "VNC")


def _live_pids(marker: str, is_program: Callable[[str], bool]) -> list[int]:
    """Pids of the living (not zombie) processes whose program ``is_program`` and whose
    argv mentions ``marker``."""
    pids = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if cmd and is_program(cmd[0]) and any(marker in arg for arg in cmd):
            with contextlib.suppress(psutil.Error):
                if proc.status() != psutil.STATUS_ZOMBIE:
                    pids.append(proc.pid)
    return pids


def live_qemu_pids(marker: str) -> list[int]:
    """Pids of the living (not zombie) qemu processes whose argv mentions ``marker``."""
    return _live_pids(marker, lambda program: "qemu-system" in program)


def kill_qemus(marker: str) -> None:
    """SIGKILL every qemu whose command line mentions ``marker`` (a runtime dir)."""
    for pid in live_qemu_pids(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def live_switch_pids(marker: str) -> list[int]:
    """Pids of the living ``vde_switch`` daemons whose argv mentions ``marker``."""
    return _live_pids(marker, lambda program: Path(program).name == "vde_switch")


def kill_switches(marker: str) -> None:
    """SIGKILL every vde_switch whose command line mentions ``marker`` (a runtime dir)."""
    for pid in live_switch_pids(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def own_rows(
    rows: Iterable[Mapping[str, object]], marker: str | Path, *, pids: Collection[int] = ()
) -> list[Row]:
    """The LIST rows of this test only: a row is ours when one of its socket paths lies in
    the test's runtime dir ``marker``, or its PID is a qemu whose command line names that
    dir, or one of ``pids`` (e.g. a bare qemu the test started itself). A row of any other
    qemu on the host — with the same label or not — is never in it."""
    root = str(marker).rstrip("/") + "/"
    known = set(pids) | set(live_qemu_pids(str(marker)))
    return [
        dict(row)
        for row in rows
        if row.get("PID") in known
        or any(
            str(row.get(field) or "").removeprefix("unix:").startswith(root)
            for field in _PATH_FIELDS
        )
    ]


def list_rows(ctys: Ctys, marker: str | Path, *targets: str) -> list[Row]:
    """``LIST=JSON`` (on ``targets``, default this host), reduced to this test's rows."""
    done = ctys("-t", "QEMU", "-a", "LIST=JSON", *targets)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert isinstance(rows, list), done.stdout
    return own_rows(rows, marker)


def labels(rows: Iterable[Mapping[str, object]]) -> list[str]:
    """The sorted labels of ``rows``."""
    return sorted(str(row["LABEL"]) for row in rows)
