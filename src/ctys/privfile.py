"""Create files and folders that are the user's alone (0600 / 0700), whatever the umask.

What ctys keeps — the inventory (which VMs exist where, their MACs and addresses), runtime
records, install notes — is no other user's business; the umask (often 022) would make it
world-readable.
"""

from __future__ import annotations

import os
from pathlib import Path

from ctys.atomicfile import write_text_atomically

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def create_private_dir(path: Path) -> None:
    """Create the folder ``path`` with mode 0700 when it is missing (its missing parents get
    the usual mode: ``~/.local/share`` is not ctys' to close). An existing folder is left as
    it is (a shared folder someone chose stays shared). ``OSError`` on failure."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=PRIVATE_DIR)
    except FileExistsError:
        return  # made by someone else meanwhile: theirs to choose
    path.chmod(PRIVATE_DIR)  # a umask such as 0277 cuts mkdir's mode further


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists (then leave it as it is).
    True when it was created. ``OSError`` on failure."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def write_private_text(path: Path, text: str, *, durable: bool = True) -> None:
    """Write ``path`` atomically (temp file + rename) with mode 0600, replacing any file
    there (and its mode). ``OSError`` on failure; no temp file is left behind.
    ``durable=False``: runtime state, not fsynced (``write_text_atomically``)."""
    # The temp file is 0600 from its creation: never readable by others.
    write_text_atomically(
        path, lambda stream: stream.write(text), mode=PRIVATE_FILE, durable=durable
    )
