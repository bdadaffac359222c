"""The demo VM: its folder and the conf file that boots the test guest (``ctys-demo``'s
command line is ``ctys.plugins.qemu.demo.cli``, which calls this)."""

from __future__ import annotations

import os
import re
import shlex
import uuid
from pathlib import Path

from ctys.atomicfile import write_text_atomically
from ctys.plugins.qemu.demo.realvm import existing_uuid
from ctys.plugins.qemu.images.build import GuestImage

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
