"""Find VM conf files by walking folders (resolution without an inventory)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ctys.conf.model import VmConfig
from ctys.conf.vmconfig import load_vm_config
from ctys.errors import CtysError

MAGIC = b"MAGICID-QEMU"
# A conf file larger than this is not a VM conf (and must not be slurped by a scan).
MAX_CONF_BYTES = 1 << 20


def default_base_paths() -> tuple[Path, ...]:
    """``$CTYS_VMPATH`` (``:``-separated), else ``~/qemu``."""
    env = os.environ.get("CTYS_VMPATH")
    if env:
        return tuple(Path(p).expanduser() for p in env.split(":") if p)
    return (Path.home() / "qemu",)


def iter_conf_candidates(base: Path) -> Iterator[Path]:
    """Every ``*.conf`` under ``base`` (or ``base`` itself when it is a file) that carries
    the ``MAGICID-QEMU`` marker. Unreadable folders are skipped."""
    if base.is_file():
        yield base
        return
    for dirpath, dirnames, filenames in os.walk(base, onerror=None):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith(".conf"):
                path = Path(dirpath) / name
                if _has_magic(path):
                    yield path


def _has_magic(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(MAX_CONF_BYTES)
    except OSError:
        return False
    return MAGIC in head


@dataclass(frozen=True)
class ScanResult:
    """VMs found, and conf files that could not be read (each with its one-line error)."""

    vms: tuple[VmConfig, ...]
    errors: tuple[str, ...]


def scan_vms(base_paths: Sequence[Path], *, include_ignored: bool = False) -> ScanResult:
    """Load every QEMU conf under the base paths. Broken files become error lines, the scan
    goes on. ``MAGICID-IGNORE`` variants are left out unless asked for."""
    vms: list[VmConfig] = []
    errors: list[str] = []
    seen: set[Path] = set()
    for base in base_paths:
        if not base.exists():
            continue
        for path in iter_conf_candidates(base):
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            try:
                vm = load_vm_config(real)
            except CtysError as exc:
                errors.append(str(exc))
                continue
            if vm.ignored and not include_ignored:
                continue
            vms.append(vm)
    return ScanResult(tuple(vms), tuple(errors))
