"""The detection cache: one JSON file holding what probing QEMU binaries found.

Probing a binary costs a few process starts and the KVM probe boots a guest for a second,
so results are kept in ``$XDG_CACHE_HOME/ctys/qemu-caps.json`` (default ``~/.cache/ctys``).
Each entry records the binary's mtime and size; an entry whose binary changed is a miss.
The file is rewritten atomically (temp file + rename) and a corrupt file counts as empty,
so a crash or a hand edit can never break detection, only cost a re-probe.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctys.atomicfile import write_text_atomically
from ctys.pathutil import user_cache_dir

CACHE_FORMAT = 1
_SECTIONS = ("caps", "kvm")


def cache_file() -> Path:
    """Where the cache lives: ``$XDG_CACHE_HOME/ctys/qemu-caps.json`` or ``~/.cache/ctys/...``."""
    return user_cache_dir() / "qemu-caps.json"


@dataclass(frozen=True)
class BinaryStamp:
    """Identity of a binary's current contents: a changed mtime or size means a new build."""

    path: str
    mtime_ns: int
    size: int

    @classmethod
    def of(cls, path: Path) -> BinaryStamp:
        """Stamp ``path`` as it is on disk now (follows symlinks; OSError if it is gone)."""
        info = path.stat()
        return cls(str(path), info.st_mtime_ns, info.st_size)

    def matches(self, entry: dict[str, Any]) -> bool:
        return entry.get("mtime_ns") == self.mtime_ns and entry.get("size") == self.size


class CapCache:
    """The cache file as two sections of entries keyed by binary path: ``caps`` and ``kvm``.

    ``get``/``put`` work on the in-memory copy; ``save`` writes it back if anything changed.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else cache_file()
        self._data = self._load()
        self._dirty = False

    def _load(self) -> dict[str, dict[str, Any]]:
        empty: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return empty  # missing or corrupt: start over, it is only a cache
        if not isinstance(raw, dict) or raw.get("format") != CACHE_FORMAT:
            return empty
        for name in _SECTIONS:
            section = raw.get(name)
            if isinstance(section, dict):
                empty[name] = {k: v for k, v in section.items() if isinstance(v, dict)}
        return empty

    def get(self, section: str, stamp: BinaryStamp, **extra_keys: str) -> dict[str, Any] | None:
        """The stored payload for ``stamp`` if the binary is unchanged and ``extra_keys``
        (e.g. the kernel boot id) match; None on a miss."""
        entry = self._data[section].get(stamp.path)
        if entry is None or not stamp.matches(entry):
            return None
        if any(entry.get(key) != value for key, value in extra_keys.items()):
            return None
        payload = entry.get("payload")
        return payload if isinstance(payload, dict) else None

    def put(
        self, section: str, stamp: BinaryStamp, payload: dict[str, Any], **extra_keys: str
    ) -> None:
        """Remember ``payload`` for ``stamp`` (replacing any older entry for that path)."""
        entry: dict[str, Any] = {"mtime_ns": stamp.mtime_ns, "size": stamp.size}
        entry.update(extra_keys)
        entry["payload"] = payload
        self._data[section][stamp.path] = entry
        self._dirty = True

    def save(self) -> None:
        """Write the cache atomically if it changed. A read-only cache dir is not an error:
        detection still works, it just is not remembered."""
        if not self._dirty:
            return
        document = {"format": CACHE_FORMAT, **self._data}
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomically(
                self.path,
                lambda fh: json.dump(document, fh, indent=1, sort_keys=True),
                mode=0o600,
            )
            self._dirty = False
