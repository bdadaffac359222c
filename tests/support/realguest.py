"""The real Debian guest's VM folder in a private ctys environment, for e2e tests that
boot it: one real guest at a time (a lock beside the cached image), whatever is left of
it killed and the environment removed at the end."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ctys.filelock import exclusive_lock
from ctys.plugins.qemu.demo.realvm import free_port, write_real_conf
from ctys.plugins.qemu.images.realsystem import RealGuestImage
from support.env import private_ctys_env
from support.procs import kill_qemus


@dataclass(frozen=True)
class RealFolder:
    """The environment (``env``: no DISPLAY), its root folder and the guest's ssh forward."""

    env: dict[str, str]
    root: Path
    port: int


@contextlib.contextmanager
def real_guest_folder(
    image: RealGuestImage, label: str, *, guest_agent: bool
) -> Iterator[RealFolder]:
    """Write the guest's conf (``HOSTFWD`` from a free port to its sshd) under a fresh
    private environment and hold the one-real-guest lock for the ``with`` body."""
    root = Path(tempfile.mkdtemp(prefix="ctr", dir="/tmp"))
    env = {**os.environ, **private_ctys_env(root)}
    env.pop("DISPLAY", None)
    try:
        with exclusive_lock(image.disk.parent.parent / ".boot.lock"):
            port = free_port()
            write_real_conf(Path(env["CTYS_VMPATH"]) / label, image, label,
                            ssh_port=port, guest_agent=guest_agent)  # fmt: skip
            try:
                yield RealFolder(env, root, port)
            finally:
                kill_qemus(env["CTYS_RUNTIME_DIR"])
    finally:
        shutil.rmtree(root, ignore_errors=True)
