"""Snapshots of a stopped VM's disks through ``qemu-img`` (never a shell): ``snapshot
-c|-a|-d TAG`` on each qcow2 disk, and ``info --output=json`` for what they hold. qemu-img
takes the image lock itself; ctys first names a qemu that holds a disk (``imagelock``)."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

from ctys.errors import CommandError
from ctys.plugins.qemu.vm.snapshots import Snapshot, SnapshotFailed, parse_snapshots
from ctys.runcmd import run_command

_MISSING = "qemu-img not found: install QEMU's tools (Debian: qemu-utils)"


class ImgOp(Enum):
    """``qemu-img snapshot``'s operations and their flag."""

    CREATE = "-c"
    APPLY = "-a"
    DELETE = "-d"


def image_opts(disk: Path) -> str:
    """``disk`` as qcow2 in ``--image-opts`` form: the format is never probed from the
    guest-written contents, and the path (its commas doubled) never reads as a flag."""
    return "driver=qcow2,file.filename=" + str(disk).replace(",", ",,")


def snapshot_argv(op: ImgOp, tag: str, disk: Path) -> list[str]:
    """``qemu-img snapshot --image-opts -c|-a|-d TAG driver=qcow2,file.filename=DISK``."""
    return ["qemu-img", "snapshot", "--image-opts", op.value, tag, image_opts(disk)]


def info_argv(disk: Path) -> list[str]:
    """``qemu-img info --output=json -U`` (``-U``: readable while a qemu holds it)."""
    return ["qemu-img", "info", "--output=json", "-U", "--", str(disk)]


def _run(argv: list[str]) -> str:
    try:
        return run_command(argv, missing=_MISSING, error=SnapshotFailed)
    except CommandError as exc:
        # qemu-img's own words, without its "Try 'qemu-img --help'" hint.
        lines = [ln for ln in exc.stderr.splitlines() if ln.strip() and not ln.startswith("Try ")]
        why = " ".join(lines[0].split()) if lines else f"exit {exc.returncode}"
        raise SnapshotFailed(f"qemu-img {argv[1]}: {why.removeprefix('qemu-img: ')}") from exc


def disk_info(disk: Path) -> tuple[str, tuple[Snapshot, ...]]:
    """The format of ``disk`` and the snapshots it holds."""
    out = _run(info_argv(disk))
    try:
        info = json.loads(out)
    except ValueError:
        raise SnapshotFailed(f"qemu-img info {disk}: unreadable output") from None
    if not isinstance(info, dict):
        raise SnapshotFailed(f"qemu-img info {disk}: unexpected output")
    return str(info.get("format", "")), parse_snapshots(info.get("snapshots"))


def run_snapshot(op: ImgOp, tag: str, disk: Path) -> None:
    """One ``qemu-img snapshot`` on one disk; its failure as one line."""
    _run(snapshot_argv(op, tag, disk))
