"""``python -m ctys.plugins.qemu.shares.romount HOSTDIR -- PROGRAM ARGS...``: make
``HOSTDIR`` a read-only bind mount, then run ``PROGRAM`` in its place.

Run only inside a private mount namespace (``unshare --mount --propagation private``): the
bind mount exists for that namespace alone and goes with its last process. This is how a
read-only virtiofs share is served by a virtiofsd that has no read-only option.
"""

from __future__ import annotations

import os
import subprocess
import sys


def main(argv: list[str]) -> int:
    """Mount, then ``exec`` the program (this process becomes it)."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: romount HOSTDIR -- PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    hostdir, program = argv[0], argv[2:]
    for mount in (
        ["mount", "--bind", hostdir, hostdir],
        ["mount", "-o", "remount,bind,ro", hostdir, hostdir],
    ):
        done = subprocess.run(mount, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
            print(f"romount: {' '.join(mount[:-2])} {hostdir}: {why}", file=sys.stderr)
            return 1
    # An argv list, no shell: the program is the one virtiofsd_argv built.
    os.execv(program[0], program)  # noqa: S606
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
