"""The logs of finished runs, kept after a VM's runtime folder is removed.

A runtime folder lives only as long as its VM; ``qemu.log`` (qemu's stderr) and
``console.log`` (the serial console) are what tells why a VM died, so they are copied to
``$XDG_STATE_HOME/ctys/logs/<vmid>/`` (default ``~/.local/state/ctys/logs``) before the
folder goes. The newest run's logs keep their names (``qemu.log``); older runs are rotated
to ``qemu.log.1`` .. ``qemu.log.<KEEP_RUNS-1>``. Everything is private (dirs 0700, files
0600), each file keeps at most its last ``MAX_FILE_BYTES`` and the whole store at most
``MAX_TOTAL_BYTES`` (the oldest files go first), so logs can never fill a disk.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

LOG_NAMES = ("qemu.log", "console.log")
KEEP_RUNS = 5  # runs kept per VM: the newest plus KEEP_RUNS-1 rotated ones
MAX_FILE_BYTES = 1 << 20  # a kept log is the tail of the run's log
MAX_TOTAL_BYTES = 64 << 20  # all kept logs of all VMs together


def logs_root() -> Path:
    """``$XDG_STATE_HOME/ctys/logs``, else ``~/.local/state/ctys/logs``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ctys" / "logs"


def kept_log(vmid: str, name: str = "qemu.log", root: Path | None = None) -> Path:
    """Where the newest kept ``name`` of VM ``vmid`` is."""
    return (root or logs_root()) / vmid / name


def shown(path: Path) -> str:
    """``path`` as shown in messages: the home directory as ``~``."""
    home = str(Path.home())
    text = str(path)
    if home not in ("", "/") and (text == home or text.startswith(home + "/")):
        return "~" + text[len(home) :]
    return text


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def _rotate(folder: Path, name: str, keep: int) -> None:
    """``name`` → ``name.1`` → ... ; the one beyond ``keep`` runs is dropped."""
    with contextlib.suppress(FileNotFoundError):
        (folder / f"{name}.{keep - 1}").unlink()
    for index in range(keep - 2, -1, -1):
        src = folder / (f"{name}.{index}" if index else name)
        with contextlib.suppress(FileNotFoundError):
            src.replace(folder / f"{name}.{index + 1}")


def _copy_tail(src: Path, dst: Path, limit: int) -> None:
    with src.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        fh.seek(max(0, size - limit))
        data = fh.read(limit)
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def keep_logs(run_folder: Path, root: Path | None = None, keep: int = KEEP_RUNS) -> Path | None:
    """Copy the logs of the runtime folder ``run_folder`` to the log store (rotating older
    runs of the same VM) and return the VM's log folder; None when there was nothing to
    keep or it could not be written (keeping logs never makes a stop or a cleanup fail)."""
    present = [name for name in LOG_NAMES if (run_folder / name).is_file()]
    if not present:
        return None
    root = root or logs_root()
    folder = root / run_folder.name
    try:
        _private_dir(folder)
        for name in LOG_NAMES:
            _rotate(folder, name, keep)
        for name in present:
            _copy_tail(run_folder / name, folder / name, MAX_FILE_BYTES)
    except OSError:
        return None
    enforce_total(root, MAX_TOTAL_BYTES)
    return folder


def enforce_total(root: Path, limit: int) -> None:
    """Delete the oldest kept logs until all of them together take at most ``limit`` bytes."""
    files: list[tuple[float, int, Path]] = []
    with contextlib.suppress(OSError):
        for folder in root.iterdir():
            if not folder.is_dir() or folder.is_symlink():
                continue
            for entry in folder.iterdir():
                with contextlib.suppress(OSError):
                    info = entry.lstat()
                    files.append((info.st_mtime, info.st_size, entry))
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files, key=lambda f: f[0]):
        if total <= limit:
            break
        with contextlib.suppress(OSError):
            path.unlink()
            total -= size
