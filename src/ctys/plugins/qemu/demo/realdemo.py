"""``ctys-demo --real``: build the real system guest (Debian 12 on a partitioned disk),
write its VM folder, boot it with ``BOOTMODE:HDD`` until its login prompt, and print the
ssh command that logs in to it. The tiny guest stays ``ctys-demo``'s fast default."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import TextIO

from ctys.errors import CommandError, CtysError
from ctys.plugins.qemu.demo.realvm import (
    DEFAULT_SSH_PORT,
    LOGIN_PROMPT,
    free_port,
    ssh_argv,
    write_real_conf,
)
from ctys.plugins.qemu.images.realsystem import build_real_guest
from ctys.runcmd import run_command

LABEL = "real"
BOOT_TIMEOUT = 600  # seconds to the login prompt: TCG on a slow machine


def run_real_demo(directory: Path, out: TextIO) -> int:
    """Build (once), write ``<directory>/real/real.conf`` and boot it; print the next
    commands. A running ``real`` VM is an error line from CREATE (``already running``)."""
    image = build_real_guest(log=lambda line: print(line, file=out, flush=True))
    folder = directory / LABEL
    conf = folder / f"{LABEL}.conf"
    # The forward of an existing conf is kept, so the ssh command printed before still works.
    port = _forwarded_port(conf) or free_port(DEFAULT_SSH_PORT)
    write_real_conf(folder, image, LABEL, ssh_port=port)
    print(f"real VM conf: {conf} (disk: an overlay on {image.disk})", file=out, flush=True)
    create = (
        f"CREATE=l:{LABEL},BASEPATH:{folder},BOOTMODE:HDD,CONSOLE:CLI,"
        f"WAIT:{LOGIN_PROMPT}%{BOOT_TIMEOUT}"
    )
    print(
        f"booting it (TCG, about a minute): ctys -t QEMU -a '{create}' -b 1", file=out, flush=True
    )
    try:
        started = run_command(
            [sys.executable, "-m", "ctys", "-t", "QEMU", "-a", create, "-b", "1"],
            timeout=BOOT_TIMEOUT + 60,
        )
    except CommandError as err:
        lines = err.stderr.strip().splitlines() or [str(err)]
        raise CtysError(lines[-1].removeprefix("ctys: ")) from err
    out.write(started)
    print("log in with:", file=out)
    print(f"  {shlex.join(ssh_argv(image, port))}", file=out)
    print("its serial console:", file=out)
    print(f"  ctys -t QEMU -a CREATE=l:{LABEL},BASEPATH:{folder},CONNECT", file=out)
    print("power it off (guest agent, then ACPI):", file=out)
    print(f"  ctys -t QEMU -a CANCEL=l:{LABEL},BASEPATH:{folder}", file=out)
    return 0


def _forwarded_port(conf: Path) -> int | None:
    try:
        text = conf.read_text()
    except OSError:
        return None
    found = re.search(r"^#@#HOSTFWD = tcp:127\.0\.0\.1:(\d+)-:22$", text, re.MULTILINE)
    return int(found.group(1)) if found else None
