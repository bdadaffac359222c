"""Files of one test: a digest of a tree, to assert that nothing in it changed."""

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
