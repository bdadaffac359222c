"""The original ctys-createConfVM's presets: its environment variables and defaults file.

The original (``ctys-createConfVM -t QEMU ...``) took the values of a new VM from shell
variables — set in the environment, or in a defaults file it sourced — and asked for the
rest in a dialogue. ctys asks nothing: with ``-t QEMU`` it reads the same variables from
the environment and from the defaults file (parsed as data, never sourced; the file's
values win over the environment's, the command line's over both). ``LABEL`` is never
taken from the environment (the original refused that too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ctys.conf.parser import read_conf
from ctys.errors import UsageError
from ctys.plugins.qemu.newconf.writer import quote_value

# The variables the original's --list-env-var-options (--levo) shows for QEMU, in its order.
ENV_VARIABLES = (
    "C_SESSIONTYPE", "MAC", "IP", "BRIDGE", "DHCP", "NETMASK", "TCP", "GATEWAY", "EDITOR",
    "UUID", "DIST", "DISTREL", "OS", "OSREL", "ARCH", "ACCELERATOR", "SMP", "MEMSIZE",
    "KBD_LAYOUT", "STARTERCALL", "WRAPPERCALL", "DEFAULTBOOTMODE", "DEFAULTINSTTARGET",
    "HDDBOOTIMAGE_INST_SIZE", "HDDBOOTIMAGE_INST_BLOCKSIZE", "HDDBOOTIMAGE_INST_BLOCKCOUNT",
    "HDDBOOTIMAGE_INST_BALLOON", "DEFAULTINSTMODE", "INSTSRCCDROM", "INSTSRCDVD",
    "INSTSRCFDD", "INSTSRCHDD", "INSTSRCUSB", "DEFAULTINSTSOURCE", "INST_KERNEL",
    "INST_EXTRA", "INST_ROOTARGS", "INST_INITRD", "DEFAULTHOSTS", "DEFAULTCONSOLE", "VMSTATE",
)  # fmt: skip

# Written into the conf as '#@#KEY = value' (the template's keys) ...
_KEYS = ("DISTREL", "OSREL", "ARCH", "NETMASK", "GATEWAY", "DEFAULTHOSTS", "DEFAULTCONSOLE",
         "VMSTATE")  # fmt: skip
# ... and as variables (the template's assignments).
_VARS = (
    "STARTERCALL", "WRAPPERCALL", "KBD_LAYOUT", "DEFAULTBOOTMODE", "DEFAULTINSTMODE",
    "DEFAULTINSTSOURCE", "DEFAULTINSTTARGET", "INSTSRCCDROM", "INSTSRCDVD", "INSTSRCFDD",
    "INSTSRCHDD", "INSTSRCUSB", "HDDBOOTIMAGE_INST_BLOCKSIZE", "HDDBOOTIMAGE_INST_BLOCKCOUNT",
    "HDDBOOTIMAGE_INST_BALLOON", "INST_KERNEL", "INST_EXTRA", "INST_ROOTARGS", "INST_INITRD",
)  # fmt: skip
# Taken by a field of the new VM (newvm.NewVmRequest) instead.
FIELD_VARIABLES = ("MAC", "IP", "UUID", "DIST", "OS", "ACCELERATOR", "SMP", "MEMSIZE",
                   "HDDBOOTIMAGE_INST_SIZE", "EDITOR")  # fmt: skip


@dataclass(frozen=True)
class Presets:
    """The original's variables that have a value (environment, then defaults file)."""

    values: Mapping[str, str]

    def get(self, name: str) -> str | None:
        return self.values.get(name) or None

    @property
    def extra_keys(self) -> tuple[tuple[str, str], ...]:
        return tuple((n, self.values[n]) for n in _KEYS if self.values.get(n))

    @property
    def extra_vars(self) -> tuple[tuple[str, str], ...]:
        return tuple((n, self.values[n]) for n in _VARS if self.values.get(n))


def defaults_file_path(given: str, label: str | None, folder: Path) -> Path:
    """``--defaults-file=FILE`` (relative to the VM folder, as the original), or the bare
    ``--defaults-file``: ``LABEL.defaults`` in the VM folder (it then needs a label)."""
    if given == "":
        if not label:
            raise UsageError("--defaults-file without a file name needs --label")
        given = f"{label}.defaults"
    path = Path(given).expanduser()
    return path if path.is_absolute() else folder / path


def read_presets(environ: Mapping[str, str], defaults: Path | None) -> Presets:
    """The variables from ``environ``, overridden by those of the ``defaults`` file."""
    values = {n: environ[n] for n in ENV_VARIABLES if environ.get(n)}
    if defaults is not None:
        if not defaults.is_file():
            raise UsageError(
                f"defaults file {defaults} does not exist (--defaults-file-create writes it)"
            )
        raw = read_conf(defaults)
        values.update({n: v for n, v in raw.variables.items() if n in ENV_VARIABLES and v})
    return Presets(values)


def list_presets(presets: Presets, out: TextIO) -> None:
    """``--levo``: every variable the original listed, with its value (empty: none)."""
    for name in ENV_VARIABLES:
        print(f"{name:>40}:{presets.values.get(name, '')}", file=out)


def render_defaults(values: Mapping[str, str]) -> str:
    """A defaults file (``export NAME=value`` lines) the original sources and ctys parses."""
    lines = ["# ctys-createConfVM defaults file: read back with --defaults-file"]
    lines += [f"export {n}={quote_value(v)}" for n, v in values.items() if v]
    return "\n".join(lines) + "\n"
