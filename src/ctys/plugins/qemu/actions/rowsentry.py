"""``ctys-rows``: the lean LIST a fan-out target runs instead of ``ctys`` (issue 15).

A merged LIST asks each target for ``[-t QEMU] -a LIST=JSON -o ALL`` (``remote_rows``).
Through ``ctys`` that costs about what a local LIST costs: the argument scanner, the
``Invocation``, macros, the dispatcher, the output formats, for rows no one formats
there. This entry answers those words alone: the runtime folders and ``/proc``
(``actions.list``), the rows of ``actions.listrecord``, the JSON text of
``ctys.jsonrows`` — exactly what ``ctys`` prints for them, and its stderr lines (a
runtime folder it cannot read, confs that run programs). Nothing else of the command line
is parsed: ``lean_args`` says which words it answers (the caller asks before it picks this
entry); any other words (a newer caller's) are handed to the full ``ctys`` of the same
interpreter unchanged.

The caller finds it beside the remote ``ctys`` (``ctys.remote.ssh.rows_program``); a host
whose ctys is older has none, and the caller asks ``ctys`` itself there.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TextIO

__all__ = ["ROWS_MODULE", "ROWS_SCRIPT", "lean_args", "main", "print_rows"]

ROWS_SCRIPT = "ctys-rows"  # the console script (pyproject.toml)
ROWS_MODULE = "ctys.plugins.qemu.actions.rowsentry"  # ``python -m`` of the same
_ACTION = "LIST"
_FORMAT = "JSON"
# Suboptions that change nothing of what a target lists (QEMU's sessions are servers).
_SAME_ROWS = frozenset({"SERVER", "BOTH"})


def lean_args(args: Sequence[str]) -> bool:
    """Whether ``args`` are a merged LIST's target words this entry answers alone:
    ``[-t QEMU] -a LIST=JSON[,SERVER|BOTH] -o ALL``, nothing more."""
    words = list(args)
    if words[:1] == ["-t"]:
        if len(words) < 2 or words[1].upper() != "QEMU":
            return False
        words = words[2:]
    if len(words) != 4 or words[0] != "-a" or words[2:] != ["-o", "ALL"]:
        return False
    name, _, suboptions = words[1].partition("=")
    keys = [key.upper() for key in suboptions.split(",")]
    return name.upper() == _ACTION and keys[0] == _FORMAT and _SAME_ROWS.issuperset(keys[1:])


def print_rows(out: TextIO, err: TextIO) -> int:
    """The JSON rows of every VM running here, all fields (``LIST=JSON -o ALL``), on
    ``out``; what ``ctys`` says of them on ``err``. Exit status 0."""
    from ctys.inventory.settings import this_host
    from ctys.jsonrows import rows_json
    from ctys.plugins.qemu import sweep_vde_orphans
    from ctys.plugins.qemu.actions.list import all_list_fields, exec_warnings, list_rows, list_vms
    from ctys.plugins.qemu.confs.reader import LazyConfs, qemu_base_paths
    from ctys.plugins.qemu.vm.runtime import RuntimeDir
    from ctys.safestream import write_text

    sweep_vde_orphans()  # as every LIST does (QemuPlugin.run)
    confs = LazyConfs(qemu_base_paths())  # scanned only when a VM runs, to name it
    entries = list_vms(RuntimeDir(), confs, err=err)
    fields = all_list_fields()
    write_text(out, rows_json(list_rows(entries, fields, this_host()), fields))
    for line in exec_warnings(entries, confs):
        print(line, file=err)
    return 0


def _full_ctys(args: Sequence[str]) -> None:
    """Become ``python -m ctys ARGS`` (this interpreter): words this entry does not know."""
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "ctys", *args])  # noqa: S606


def main() -> int:
    """``ctys-rows ARGS`` (``sys.argv``): the lean rows, else the full ctys."""
    args = sys.argv[1:]
    if not lean_args(args):
        _full_ctys(args)
    from ctys.runguard import run_guarded
    from ctys.safestream import safe_stream

    def body() -> int:
        return print_rows(safe_stream(sys.stdout), safe_stream(sys.stderr))

    return run_guarded("ctys", body, lambda: 0)


if __name__ == "__main__":
    sys.exit(main())
