"""Find VM conf files by walking folders (resolution without an inventory, and ENUMERATE)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ctys.conf.model import VmConfig
from ctys.conf.parser import parse_conf_text_with_lines, read_small_conf_text
from ctys.conf.vmconfig import vm_config_from_raw
from ctys.errors import CtysError

MAGIC = "MAGICID-QEMU"

# Called with (files seen, VMs found) while a scan runs.
Progress = Callable[[int, int], None]


def default_base_paths() -> tuple[Path, ...]:
    """``$CTYS_VMPATH`` (``:``-separated), else ``~/qemu``."""
    env = os.environ.get("CTYS_VMPATH")
    if env:
        return tuple(Path(p).expanduser() for p in env.split(":") if p)
    return (Path.home() / "qemu",)


def iter_conf_files(base: Path, seen: list[int] | None = None) -> Iterator[Path]:
    """Every ``*.conf`` under ``base`` (``base`` itself when it is a file), depth first in
    name order; hidden folders and unreadable folders are skipped, symlinked folders are not
    followed (no loops). ``seen[0]`` counts directory entries looked at."""
    if base.is_file():
        yield base
        return
    stack = [str(base)]
    while stack:
        folder = stack.pop()
        confs: list[os.DirEntry[str]] = []
        subdirs: list[str] = []
        count = 0
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    count += 1
                    name = entry.name
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if not name.startswith("."):
                                subdirs.append(entry.path)
                        elif name.endswith(".conf"):
                            confs.append(entry)
                    except OSError:
                        continue
        except OSError:
            continue
        if seen is not None:
            seen[0] += count
        # Only the few hits are sorted, not every entry: the order is the same (a folder's
        # conf files first, then its subfolders, each in name order).
        confs.sort(key=_entry_name)
        for entry in confs:
            try:
                # One VM, one path: a symlinked conf is known by its target.
                path = Path(entry.path)
                yield path.resolve() if entry.is_symlink() else path
            except OSError:
                continue
        subdirs.sort(reverse=True)
        stack.extend(subdirs)


def _entry_name(entry: os.DirEntry[str]) -> str:
    return entry.name


def load_if_qemu(path: Path) -> VmConfig | None:
    """The VM of a conf file carrying ``MAGICID-QEMU``; ``None`` for other ``.conf`` files.
    Broken QEMU confs raise ``ConfError`` with file:line. The file is read once."""
    text = read_small_conf_text(path)
    if text is None or MAGIC not in text:
        return None
    raw, lines = parse_conf_text_with_lines(text, path)
    return vm_config_from_raw(raw, lines)


@dataclass(frozen=True)
class ScanResult:
    """VMs found, conf files that could not be read (each with its one-line error), and
    how many directory entries the scan looked at."""

    vms: tuple[VmConfig, ...]
    errors: tuple[str, ...]
    entries: int = 0


def scan_vms(
    base_paths: Sequence[Path],
    *,
    include_ignored: bool = False,
    progress: Progress | None = None,
) -> ScanResult:
    """Load every QEMU conf under the base paths. Broken files become error lines, the scan
    goes on. ``MAGICID-IGNORE`` variants are left out unless asked for; of two active confs
    with one UUID only the first is kept (one active master per VM), the other reported."""
    vms: list[VmConfig] = []
    errors: list[str] = []
    masters: dict[str, Path] = {}
    counter = [0]
    for path in _unique_conf_files(base_paths, counter):
        try:
            vm = load_if_qemu(path)
        except CtysError as exc:
            errors.append(str(exc))
            continue
        if vm is None or (vm.ignored and not include_ignored):
            continue
        if vm.uuid and not vm.ignored:
            key = vm.uuid.lower()
            if key in masters:
                errors.append(
                    f"{path}: UUID {vm.uuid} is already active in {masters[key]};"
                    " mark one variant #@#MAGICID-IGNORE"
                )
                continue
            masters[key] = path
        vms.append(vm)
        if progress is not None:
            progress(counter[0], len(vms))
    if progress is not None:
        progress(counter[0], len(vms))
    return ScanResult(tuple(vms), tuple(errors), counter[0])


def _unique_conf_files(base_paths: Sequence[Path], counter: list[int]) -> Iterator[Path]:
    """The conf files under every base path, each once."""
    seen: set[Path] = set()
    for base in base_paths:
        if not base.exists():
            continue
        for path in iter_conf_files(base.resolve(), counter):
            if path not in seen:
                seen.add(path)
                yield path
