"""``ctys-demo``: build the test guest and write a ready-to-start demo VM conf.

It boots nothing itself; it prints where the conf is and the ctys command that starts it.
The guest and the conf are ``ctys.guest``'s; this module is only the command line.
"""

from __future__ import annotations

import sys
from typing import TextIO

from ctys.guest.build import build_guest
from ctys.guest.demo import default_demo_dir, write_demo_conf
from ctys.runguard import run_guarded
from ctys.safestream import safe_stream

PROG = "ctys-demo"


def main() -> int:
    """Console script: build the guest, write the demo conf, print the next command. Errors,
    Ctrl-C and broken output streams are handled as for every ctys command (``run_guarded``);
    every line goes through a ``SafeWriter`` (paths come from the environment)."""
    return run_guarded(PROG, lambda: run(safe_stream(sys.stdout)), lambda: 0)


def run(out: TextIO) -> int:
    """Build the guest, write the demo conf and print where it is and how to start it."""
    guest = build_guest()
    directory = default_demo_dir()
    conf = write_demo_conf(directory, guest)
    print(f"demo VM conf: {conf}", file=out)
    print("start it with:", file=out)
    print(f"  ctys -t QEMU -a CREATE=l:demo,BASEPATH:{directory},CONSOLE:CLI", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
