"""``ctys-demo``: build the test guest and write a ready-to-start demo VM conf.

It boots nothing itself; it prints where the conf is and the ctys command that starts it.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import uuid
from pathlib import Path
from typing import TextIO

from ctys.atomicfile import write_text_atomically
from ctys.cli.exits import run_guarded
from ctys.cli.safeout import safe_stream
from ctys.guest.build import GuestImage, build_guest
from ctys.guest.realvm import existing_uuid

DEFAULT_APPEND = "console=ttyS0 console=tty0 panic=-1"
_PLAIN_WORD = re.compile(r"[\w./:=,@%+-]+")


def default_demo_dir() -> Path:
    """``$CTYS_DEMO_DIR``, else ``~/qemu/demo``."""
    env = os.environ.get("CTYS_DEMO_DIR")
    return Path(env) if env else Path.home() / "qemu" / "demo"


def kernel_append(*, noacpi: bool = False, extra_append: str = "") -> str:
    """The guest's kernel command line: serial + VGA console, plus the ctys.* switches."""
    words = [DEFAULT_APPEND]
    if noacpi:
        words.append("ctys.noacpi=1")
    if extra_append.strip():
        words.append(extra_append.strip())
    return " ".join(words)


def write_demo_conf(
    dir: Path,
    guest: GuestImage,
    label: str = "demo",
    *,
    noacpi: bool = False,
    extra_append: str = "",
) -> Path:
    """Write ``<dir>/<label>.conf`` for a TCG VM that boots ``guest``; return its path.

    An existing conf keeps its UUID, so rewriting it does not make a new VM for ctys.
    ``noacpi`` makes a guest that ignores the power button; ``extra_append`` adds kernel
    parameters (e.g. ``ctys.ip=10.0.2.15/24``).
    """
    dir.mkdir(parents=True, exist_ok=True)
    conf = dir / f"{label}.conf"
    vm_uuid = existing_uuid(conf) or str(uuid.uuid4())
    lines = [
        "#@#MAGICID-QEMU",
        f"# ctys test guest '{label}', written by ctys-demo",
        f"#@#LABEL = {label}",
        f"#@#UUID = {vm_uuid}",
        "#@#ACCELERATOR = TCG",
        "#@#MEMSIZE = 256",
        "#@#VCPU = 1",
        f"KERNEL={_shell_value(str(guest.kernel))}",
        f"INITRD={_shell_value(str(guest.initrd))}",
        f"APPEND={_shell_value(kernel_append(noacpi=noacpi, extra_append=extra_append))}",
    ]
    # Written beside and renamed, so a reader never sees half a conf.
    text = "\n".join(lines) + "\n"
    write_text_atomically(conf, lambda fh: fh.write(text))
    return conf


def _shell_value(value: str) -> str:
    """``value`` as a shell word: bare when plain, double-quoted when that is safe."""
    if _PLAIN_WORD.fullmatch(value):
        return value
    if not any(char in value for char in '"$`\\'):
        return f'"{value}"'
    return shlex.quote(value)


USAGE = "usage: ctys-demo [--real]"


def main(argv: list[str] | None = None) -> int:
    """Console script: build the guest, write the demo conf, print the next command
    (``--real``: the real system guest, booted; see ``realdemo``). Errors, Ctrl-C and
    broken output streams are handled as for every ctys command (``run_guarded``); every
    line goes through a ``SafeWriter`` (paths come from the environment)."""
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["--real"]):
        print(USAGE, file=sys.stderr)
        return 0 if args in (["-h"], ["--help"]) else 2
    if args == ["--real"]:
        from ctys.guest.realdemo import run_real_demo

        out = safe_stream(sys.stdout)
        return run_guarded("ctys-demo", lambda: run_real_demo(default_demo_dir(), out), lambda: 0)
    return run_guarded("ctys-demo", lambda: _run(safe_stream(sys.stdout)), lambda: 0)


def _run(out: TextIO) -> int:
    guest = build_guest()
    directory = default_demo_dir()
    conf = write_demo_conf(directory, guest)
    print(f"demo VM conf: {conf}", file=out)
    print("start it with:", file=out)
    print(f"  ctys -t QEMU -a CREATE=l:demo,BASEPATH:{directory},CONSOLE:CLI", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
