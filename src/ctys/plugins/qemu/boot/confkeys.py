"""The boot-related conf keys the plugin reads itself (``#@#TFTPROOT``, ``#@#FIRMWARE``,
``#@#DISKIF``, ...): looked up like every field, a ctys key before a shell variable of
the same name, empty values absent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ctys.plugins.qemu.vmconfig import VmConfig


@dataclass(frozen=True)
class ConfValue:
    """A value found in the conf, with the name it was written as (``#@#KEY`` or ``KEY``)."""

    name: str
    text: str


def conf_value(vm: VmConfig, *names: str) -> ConfValue | None:
    """The first non-empty ctys key among ``names``, else the first such variable."""
    raw = vm.raw
    if raw is None:
        return None
    for table, prefix in ((raw.keys, "#@#"), (raw.variables, "")):
        for name in names:
            text = table.get(name, "").strip()
            if text:
                return ConfValue(f"{prefix}{name}", text)
    return None


def conf_path(vm: VmConfig, text: str) -> Path:
    """A path value as the conf means it: ``~`` is the home, relative is to the conf's folder."""
    path = Path(text).expanduser() if text.startswith("~") else Path(text)
    return path if path.is_absolute() else vm.conf_path.absolute().parent / path
