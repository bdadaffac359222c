"""The UEFI firmware images this host has, read from QEMU's firmware descriptors.

Packages like Debian's ``ovmf`` describe their images in JSON files (QEMU's
``docs/interop/firmware.json``) in ``/usr/share/qemu/firmware``; ``/etc/qemu/firmware`` and
``$XDG_CONFIG_HOME/qemu/firmware`` may add to them or replace one by using its file name.
The files are taken in file-name order (their numeric prefixes are their priority). Only
flash (pflash) images with a UEFI interface are of use to ctys; a descriptor that cannot
be read is skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

SYSTEM_DIRS = (Path("/usr/share/qemu/firmware"), Path("/etc/qemu/firmware"))


@dataclass(frozen=True)
class FirmwareImage:
    """One UEFI flash firmware: ``code`` (read-only) and the template of its variable store."""

    descriptor: Path
    description: str
    code: Path
    vars_template: Path | None
    features: frozenset[str]
    targets: tuple[tuple[str, tuple[str, ...]], ...]  # (architecture, machine patterns)

    @property
    def secure_boot(self) -> bool:
        return "secure-boot" in self.features

    def machines_for(self, arch: str) -> tuple[str, ...]:
        """The machine-type patterns (``pc-q35-*``) it supports on ``arch``."""
        return tuple(m for a, machines in self.targets if a == arch for m in machines)


def firmware_dirs() -> tuple[Path, ...]:
    """Where descriptors are looked for, lowest precedence first."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return (*SYSTEM_DIRS, Path(config) / "qemu" / "firmware")


def _image(path: Path) -> FirmwareImage | None:
    try:
        data = json.loads(path.read_text())
        mapping = data["mapping"]
        if "uefi" not in data.get("interface-types", ()) or mapping.get("device") != "flash":
            return None
        template = mapping.get("nvram-template", {}).get("filename")
        targets = tuple(
            (str(t["architecture"]), tuple(str(m) for m in t.get("machines", ())))
            for t in data.get("targets", ())
        )
        return FirmwareImage(
            descriptor=path,
            description=str(data.get("description", "")),
            code=Path(mapping["executable"]["filename"]),
            vars_template=Path(template) if template else None,
            features=frozenset(str(f) for f in data.get("features", ())),
            targets=targets,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def find_firmware(dirs: Sequence[Path] | None = None) -> list[FirmwareImage]:
    """The UEFI flash images described in ``dirs`` (default ``firmware_dirs()``), in
    priority order; a later folder's file replaces an earlier one's of the same name."""
    chosen: dict[str, Path] = {}
    for folder in dirs if dirs is not None else firmware_dirs():
        try:
            names = sorted(p for p in folder.iterdir() if p.suffix == ".json")
        except OSError:
            continue
        for path in names:
            chosen[path.name] = path
    images = (_image(chosen[name]) for name in sorted(chosen))
    return [image for image in images if image is not None]


def firmware_lines(images: Iterable[FirmwareImage]) -> list[str]:
    """INFO's lines: one per firmware image, with its files, features and machines."""
    lines = []
    for image in images:
        kind = "UEFI secure-boot" if image.secure_boot else "UEFI"
        store = f", vars {image.vars_template}" if image.vars_template else ""
        machines = " ".join(m for _, ms in image.targets for m in ms)
        features = ",".join(sorted(image.features)) or "-"
        lines.append(
            f"firmware: {kind}: code {image.code}{store} (features {features};"
            f" machines {machines or '-'})"
        )
    return lines or ["firmware: no UEFI firmware found (Debian: apt install ovmf)"]
