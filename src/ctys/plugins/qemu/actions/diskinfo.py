"""INFO=<address>'s disks: what ``qemu-img info --output=json --backing-chain`` says of
each disk image of a VM (format, virtual and real size, backing chain).

The parsing is pure (``parse_disk_info``); ``disk_info`` runs qemu-img with ``-U``
(force-share), so a disk that a running qemu holds locked is still read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ctys.errors import CtysError


@dataclass(frozen=True)
class ImageLayer:
    """One image of a disk's chain: the disk itself first, then its backing files."""

    filename: str
    format: str | None = None
    virtual_size: int | None = None  # bytes the guest sees
    actual_size: int | None = None  # bytes the file takes on the host's disk


@dataclass(frozen=True)
class DiskInfo:
    """A disk of a VM: its path, its chain (empty with ``error`` when unreadable)."""

    path: Path
    chain: tuple[ImageLayer, ...] = ()
    error: str | None = None

    @property
    def top(self) -> ImageLayer | None:
        return self.chain[0] if self.chain else None

    def as_dict(self) -> dict[str, object]:
        """The disk as JSON data."""
        top = self.top
        return {
            "path": str(self.path),
            "format": top.format if top else None,
            "virtual_size": top.virtual_size if top else None,
            "actual_size": top.actual_size if top else None,
            "backing_chain": [layer.filename for layer in self.chain[1:]],
            "error": self.error,
        }


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _layer(item: object) -> ImageLayer:
    if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
        raise CtysError("qemu-img info: an image without a filename")
    fmt = item.get("format")
    return ImageLayer(
        filename=item["filename"],
        format=fmt if isinstance(fmt, str) else None,
        virtual_size=_int(item.get("virtual-size")),
        actual_size=_int(item.get("actual-size")),
    )


def parse_disk_info(text: str) -> tuple[ImageLayer, ...]:
    """The chain ``qemu-img info --output=json [--backing-chain]`` printed: one object
    (without ``--backing-chain``) or a list, the image first. ``CtysError`` when it is no
    such output."""
    try:
        data = json.loads(text)
    except ValueError:
        raise CtysError("qemu-img info: unreadable output") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise CtysError("qemu-img info: no image in its output")
    return tuple(_layer(item) for item in items)


def disk_info(path: Path) -> DiskInfo:
    """What qemu-img says of the disk ``path``; a missing file or a failing qemu-img is
    the disk's ``error`` (INFO shows the rest of the VM anyway)."""
    from ctys.plugins.qemu.boot.instmode import run_qemu_img

    if not path.exists():
        return DiskInfo(path, error="missing")
    try:
        text = run_qemu_img(["info", "-U", "--output=json", "--backing-chain", "--", str(path)])
        return DiskInfo(path, parse_disk_info(text))
    except CtysError as err:
        return DiskInfo(path, error=str(err).splitlines()[0] if str(err) else "qemu-img failed")


def disks_info(paths: Sequence[Path]) -> list[DiskInfo]:
    """``disk_info`` of each path, in order."""
    return [disk_info(p) for p in paths]


def human_size(size: int | None) -> str:
    """Bytes as a short binary size (``1.5G``, ``512M``, ``0``); empty when unknown."""
    if size is None:
        return ""
    value = float(size)
    for unit in ("", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            text = f"{value:.1f}".rstrip("0").rstrip(".") if unit else str(int(value))
            return f"{text}{unit}"
        value /= 1024
    return str(size)  # pragma: no cover - the loop always returns
