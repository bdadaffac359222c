"""A VM folder for the real system guest: a conf plus a copy-on-write disk on the cached
image (``realsystem``), reached by ssh through a user-mode port forward. Used by
``ctys-demo --real``, the e2e tests and the boot bench."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path

from ctys.atomicfile import write_text_atomically
from ctys.conf.parser import read_conf
from ctys.errors import CtysError
from ctys.plugins.qemu.images.realsystem import RealGuestImage
from ctys.runcmd import run_command

#: The text of the guest's serial login prompt (its hostname, then ``login:``).
LOGIN_PROMPT = "ctys-real login:"
DEFAULT_SSH_PORT = 2222


def free_port(preferred: int | None = None) -> int:
    """``preferred`` when nothing listens on it on 127.0.0.1, else a free port the kernel
    picks (a guest's forward must not collide with another VM's)."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise CtysError("no free TCP port on 127.0.0.1")


def write_real_conf(
    folder: Path,
    image: RealGuestImage,
    label: str = "real",
    *,
    ssh_port: int,
    guest_agent: bool = True,
    memsize: int = 512,
) -> Path:
    """Write ``<folder>/<label>.conf`` and its disk ``<label>.qcow2`` (an overlay on
    ``image.disk``, which stays untouched); return the conf. An existing overlay on the
    same image is kept (the guest keeps its state), an existing conf keeps its UUID."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / f"{label}.conf"
    disk = folder / f"{label}.qcow2"
    if not _overlay_of(disk, image.disk):
        disk.unlink(missing_ok=True)
        run_command(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image.disk.resolve()),
             "-F", "qcow2", str(disk)],
            missing="qemu-img: command not found (Debian: qemu-utils)",
        )  # fmt: skip
    lines = [
        "#@#MAGICID-QEMU",
        f"# ctys real system guest '{label}' (Debian 12), written by ctys-demo --real",
        f"#@#LABEL = {label}",
        f"#@#UUID = {existing_uuid(conf) or uuid.uuid4()}",
        "#@#ACCELERATOR = TCG",
        f"#@#MEMSIZE = {memsize}",
        "#@#VCPU = 1",
        f"#@#GUESTAGENT = {'yes' if guest_agent else 'no'}",
        f"#@#HOSTFWD = tcp:127.0.0.1:{ssh_port}-:22",
        f"HDDBOOTIMAGE={disk.name}",  # the original's boot disk key
    ]
    text = "\n".join(lines) + "\n"
    write_text_atomically(conf, lambda fh: fh.write(text))
    return conf


def ssh_argv(image: RealGuestImage, port: int, *command: str) -> list[str]:
    """The ssh command that logs in to the guest as root through its forward."""
    return [
        "ssh", "-i", str(image.key), "-p", str(port),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
        "root@127.0.0.1", *command,
    ]  # fmt: skip


def _overlay_of(disk: Path, base: Path) -> bool:
    if not disk.is_file():
        return False
    try:
        info = run_command(["qemu-img", "info", "-U", "--output=json", str(disk)])
    except CtysError:
        return False
    try:
        backing = json.loads(info).get("backing-filename")
    except ValueError:
        return False
    return isinstance(backing, str) and Path(backing) == base.resolve()


def existing_uuid(conf: Path) -> str | None:
    """The UUID of an existing conf, so rewriting it does not make a new VM for ctys."""
    if not conf.is_file():
        return None
    try:
        return read_conf(conf).keys.get("UUID") or None
    except CtysError:
        return None  # an unreadable old conf is simply replaced
