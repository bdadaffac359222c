"""``ctys-demo``: build the test guest and write a ready-to-start demo VM conf.

It boots nothing itself; it prints where the conf is and the ctys command that starts it.
``ctys-demo --real`` builds the real system guest and boots it (``realdemo``).
The guest is ``images``', the conf ``demovm``'s; this module is only the command line.
"""

from __future__ import annotations

import sys
from typing import TextIO

from ctys.plugins.qemu.demo.demovm import default_demo_dir, write_demo_conf
from ctys.plugins.qemu.images.build import build_guest
from ctys.runguard import run_guarded
from ctys.safestream import safe_stream

PROG = "ctys-demo"


USAGE = "usage: ctys-demo [--real]"


def main(argv: list[str] | None = None) -> int:
    """Console script: build the guest, write the demo conf, print the next command
    (``--real``: the real system guest, booted: ``ctys.plugins.qemu.demo.realdemo``). Errors, Ctrl-C
    and broken output streams are handled as for every ctys command (``run_guarded``);
    every line goes through a ``SafeWriter`` (paths come from the environment)."""
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["--real"]):
        print(USAGE, file=sys.stderr)
        return 0 if args in (["-h"], ["--help"]) else 2
    if args == ["--real"]:
        from ctys.plugins.qemu.demo.realdemo import run_real_demo

        out = safe_stream(sys.stdout)
        return run_guarded(PROG, lambda: run_real_demo(default_demo_dir(), out), lambda: 0)
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
