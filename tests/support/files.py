"""Files of one test: a digest of a tree, to assert that nothing in it changed; a data file
written with a mode (group and macro files are read only when no one else may write them)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def tree_hash(*roots: Path) -> str:
    """Digest of every file (path, mode, bytes) under ``roots`` (missing roots count too)."""
    digest = hashlib.sha256()
    for root in roots:
        paths = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in paths:
            digest.update(str(path).encode())
            if path.is_file():
                digest.update(oct(path.stat().st_mode).encode())
                digest.update(path.read_bytes())
            elif not path.exists():
                digest.update(b"<missing>")
    return digest.hexdigest()


def write_file(folder: Path, name: str, text: str, mode: int = 0o644) -> Path:
    """``folder/name`` (folders created) holding ``text``, with ``mode``."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path
