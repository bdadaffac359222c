"""Resolving symlinks in paths a user (or a folder scan) hands us, without tracebacks.

``Path.resolve()`` raises ``RuntimeError`` for a symlink loop on Python 3.11 (``OSError``
on later versions): a ``*.conf`` link pointing at itself must never crash a command.
"""

from __future__ import annotations

import os
from pathlib import Path


def real_path(path: Path) -> Path:
    """``path`` absolute with every symlink resolved; ``OSError`` (``ELOOP``, ``ENOENT``)
    when a link loops or leads nowhere."""
    return Path(os.path.realpath(path, strict=True))


def canonical_path(path: Path) -> Path:
    """``path`` absolute with symlinks resolved as far as they lead, for comparing paths;
    never raises (a looping or dangling link stays as written)."""
    return Path(os.path.realpath(path))


def user_cache_dir() -> Path:
    """ctys's per-user cache folder: ``$XDG_CACHE_HOME/ctys``, else ``~/.cache/ctys``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ctys"
