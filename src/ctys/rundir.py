"""The private runtime root: the user's 0700 dir that per-VM folders, VDE switches and ssh
control sockets live in. Core module: imports only ``ctys.errors``."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ctys.errors import CtysError


def runtime_root() -> Path:
    """The user's runtime dir: ``$CTYS_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/ctys``,
    else ``/tmp/ctys-<uid>``. Created 0700; refused when another user owns it or it is
    open to others."""
    override = os.environ.get("CTYS_RUNTIME_DIR")
    if override:
        root = Path(override)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        root = Path(os.environ["XDG_RUNTIME_DIR"]) / "ctys"
    else:
        root = Path("/tmp") / f"ctys-{os.getuid()}"
    ensure_private_dir(root)
    return root


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` with mode 0700, or check that an existing one is ours and private."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
    except OSError as exc:
        raise CtysError(f"cannot create runtime dir {path}: {exc.strerror}") from exc
    if not stat.S_ISDIR(info.st_mode):
        raise CtysError(f"runtime dir {path} is not a directory")
    if info.st_uid != os.getuid():
        raise CtysError(f"runtime dir {path} is owned by uid {info.st_uid}, not by you")
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise CtysError(
            f"runtime dir {path} is open to other users (mode {stat.S_IMODE(info.st_mode):o})"
        )
