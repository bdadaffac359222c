"""The ``qemu-img`` argument lists a clone runs (pure: paths in, argv out)."""

from __future__ import annotations

from pathlib import Path


def linked_argv(source: Path, source_format: str, target: Path) -> list[str]:
    """A qcow2 overlay ``target`` whose backing file is ``source`` (absolute, so the clone
    folder can move) in ``source_format``: the source is only read from then on."""
    return [
        "create", "-q", "-f", "qcow2", "-F", source_format,
        "-b", str(source.absolute()), "--", str(target),
    ]  # fmt: skip


def full_argv(
    source: Path, source_format: str, target: Path, target_format: str, snapshot: str | None
) -> list[str]:
    """A full, sparse copy of ``source`` (its internal ``snapshot`` when named, read with
    ``-U`` since the VM may be running: a snapshot does not change under it)."""
    argv = ["convert", "-q", "-f", source_format, "-O", target_format]
    if snapshot is not None:
        argv += ["-U", "-l", f"snapshot.name={snapshot}"]
    return [*argv, "--", str(source), str(target)]


def info_argv(source: Path, *, force_share: bool) -> list[str]:
    """``qemu-img info`` as JSON; without ``-U`` it fails on an image a qemu holds open."""
    return ["info", "--output=json", *(["-U"] if force_share else []), "--", str(source)]
