"""The LIST rows of one test only, found by a marker: its runtime dir (see ``procs``)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from support.cli import Ctys
from support.procs import live_qemu_pids

Row = dict[str, object]
# LIST columns that name a file inside the VM's runtime dir (a managed VM's sockets).
_PATH_FIELDS = ("QMP", "CONSOLE", "VNC")


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
