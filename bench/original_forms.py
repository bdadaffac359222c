"""Benchmark: the original's command forms (issue 13) as processes, against baselines run in
the same session.

Run as ``.venv/bin/python bench/original_forms.py [--runs N] [--members N]``. It starts one
bare, paused ``qemu-system-x86_64`` (``-S``, no disk, a QMP socket) so LIST has a row, writes
a host group of ``--members`` hosts spread over nested files with ``#include``, and a macro
file, all in a private temp dir, then times (median of ``--runs``, wall clock):

- ``python -c pass`` (interpreter start-up, the floor of any Python CLI),
- ``ps -eo pid,args`` and ``pgrep -f`` (what a shell user runs to see one qemu),
- ``ctys -a LIST=MACHINE``, ``LIST=TAB_TCP``, ``ISACTIVE=<label>``, ``GETCLIENTPORT=<label>``,
  ``INFO=MACHINE`` (cached host facts),
- ``ctys -n -a LIST <group>`` (the group expanded through its includes, one dry-run ssh
  line per member, nothing contacted) and ``ctys -n -a MACRO:<name> <group>``,
- ``ctys-groups -m 4 <group>`` (the group's member list).

It prints a table with each row's ratio to ``python -c pass`` and, for LIST/ISACTIVE, to
``ps``/``pgrep``. It is a benchmark, not a test: nothing is asserted; the qemu it starts is
killed again whatever happens.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchlib import med, ms, wall

console = Console(width=110)
VENV = Path(sys.executable).parent
LABEL = "benchforms"
GROUP = "ctys-bench-all"  # a name no group of the caller's ~/.ctys/groups has


def start_bare_qemu(folder: Path) -> subprocess.Popen[bytes]:
    """A paused qemu with a QMP socket and ``-name``: what LIST finds as a foreign VM."""
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        raise SystemExit("qemu-system-x86_64 not found (run scripts/install.sh)")
    argv = [
        qemu, "-S", "-nodefaults", "-display", "none", "-machine", "accel=tcg",
        "-name", LABEL, "-qmp", f"unix:{folder / 'qmp.sock'},server=on,wait=off",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not (folder / "qmp.sock").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return proc


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text)
    path.chmod(0o600)


def write_groups(root: Path, members: int) -> str:
    """A top group including ``lab/part<k>`` files of 10 hosts each; returns its name."""
    parts = []
    for k in range(0, members, 10):
        hosts = " ".join(f"h{n:04d}" for n in range(k, min(k + 10, members)))
        write_private(root / "lab" / f"part{k // 10}", f"CONTEXT'(-d 1)'\n{hosts}\n")
        parts.append(f"#include lab/part{k // 10}")
    write_private(root / GROUP, "\n".join(parts) + "\n")
    return GROUP


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run for CI: tiny sizes, one run"
    )
    args = parser.parse_args()
    if args.quick:
        args.runs, args.members = 1, 5
    ctys = str(VENV / "ctys")
    groups_tool = str(VENV / "ctys-groups")
    with tempfile.TemporaryDirectory(prefix="ctys-bench-forms-") as tmp:
        base = Path(tmp)
        os.chmod(base, 0o700)
        group = write_groups(base / "groups", args.members)
        write_private(base / "macros" / "default", "fields = LIST=LABEL,ID,PID,TERSE\n")
        env = dict(os.environ)
        env.update(
            CTYS_GROUPS_PATH=str(base / "groups"),
            CTYS_MACRO_PATH=str(base / "macros"),
            CTYS_RUNTIME_DIR=str(base / "rt"),
        )
        # Bytecode as after a normal install (a PYTHONPYCACHEPREFIX would add ~150 ms to
        # every run here: the caches under a prefix are read back slower).
        env.pop("PYTHONPYCACHEPREFIX", None)
        proc = start_bare_qemu(base)
        try:
            rows: list[tuple[str, list[float], str | None]] = [
                ("python -c pass", wall([sys.executable, "-c", "pass"], args.runs, env), None),
                ("ps -eo pid,args", wall(["ps", "-eo", "pid,args"], args.runs, env), None),
                ("pgrep -f " + LABEL, wall(["pgrep", "-f", LABEL], args.runs, env), None),
            ]
            cases = [
                ("ctys -a LIST=MACHINE", [ctys, "-t", "QEMU", "-a", "LIST=MACHINE"], "ps"),
                ("ctys -a LIST=TAB_TCP", [ctys, "-t", "QEMU", "-a", "LIST=TAB_TCP"], "ps"),
                ("ctys -a ISACTIVE=" + LABEL, [ctys, "-a", "ISACTIVE=" + LABEL], "pgrep"),
                ("ctys -a GETCLIENTPORT=" + LABEL, [ctys, "-a", "GETCLIENTPORT=" + LABEL], None),
                ("ctys -a INFO=MACHINE", [ctys, "-a", "INFO=MACHINE"], None),
                (
                    f"ctys -n -a LIST {group} ({args.members} members)",
                    [ctys, "-n", "-a", "LIST", group],
                    None,
                ),
                (
                    "ctys -n -a MACRO:fields " + group,
                    [ctys, "-n", "-a", "MACRO:fields", group],
                    None,
                ),
                ("ctys-groups -m 4 " + group, [groups_tool, "-m", "4", group], None),
            ]
            wall([ctys, "-a", "INFO=MACHINE"], 1, env)  # warm the host-facts cache once
            for name, argv, versus in cases:
                rows.append((name, wall(argv, args.runs, env), versus))
        finally:
            proc.kill()
            proc.wait()
    floor = med(rows[0][1]) or 1e-9
    refs = {"ps": med(rows[1][1]) or 1e-9, "pgrep": med(rows[2][1]) or 1e-9}
    table = Table(title=f"original forms, median of {args.runs} runs")
    for column in ("command", "median ms", "min ms", "÷ python -c pass", "÷ baseline"):
        table.add_column(column, justify="left" if column == "command" else "right")
    for name, times, versus in rows:
        median = med(times) or 0.0
        ratio = f"{median / refs[versus]:.1f} ({versus})" if versus else ""
        table.add_row(name, ms(median), ms(min(times)), f"{median / floor:.1f}", ratio)
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
