"""Render a new VM conf file from typed answers (pure: text in, text out).

Every value is written so that ``ctys.conf.parser`` reads back exactly the given text:
plain words stay bare, anything else is single-quoted (a ``'`` inside becomes ``'\\''``),
where nothing — ``$``, backticks, ``#``, blanks — is special. So a hostile value can never
turn into an expansion or a command substitution. Values must be one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ctys.conf.parser import CONTROL_CHARACTER
from ctys.errors import CtysError
from ctys.plugins.qemu.confs.origkeys import CTYSFORMAT, CTYSFORMAT_KEY
from ctys.plugins.qemu.confs.reader import MAGIC_ID
from ctys.plugins.qemu.vmconfig import Accelerator

MAGIC = f"#@#{MAGIC_ID}"
# Characters safe bare both in NAME=word and in '#@#KEY = value' (no blank, quote, '#',
# '$', '`', '\\', '~', ';', shell operator).
_BARE = re.compile(r"[A-Za-z0-9_./:=,@%+-]+")


@dataclass(frozen=True)
class ConfAnswers:
    """What a new VM conf says. Paths are written as given (relative ones are relative to
    the conf's folder when read back); ``None``/empty fields are left out."""

    label: str
    uuid: str
    mac: str
    accelerator: Accelerator = Accelerator.AUTO
    memsize_mb: int = 512
    vcpu: int = 1
    hdd: str | None = None
    hdd_size: str | None = None  # e.g. "8G": the size INSTMODE INIT re-creates the disk with
    cdrom: str | None = None
    kernel: str | None = None
    initrd: str | None = None
    append: str | None = None
    os: str | None = None
    dist: str | None = None
    ip: str | None = None
    extra_keys: tuple[tuple[str, str], ...] = ()  # further '#@#KEY = value' lines
    extra_vars: tuple[tuple[str, str], ...] = ()  # further NAME=value lines


def quote_value(value: str) -> str:
    """``value`` as one conf word the parser reads back unchanged: bare when plain, else
    single-quoted. ``CtysError`` for values that cannot be one line."""
    if "\n" in value or CONTROL_CHARACTER.search(value):
        raise CtysError(f"value {value!r} contains a line break or control character")
    if _BARE.fullmatch(value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def original_key_safe(value: str) -> bool:
    """Whether the original reads ``value`` back unchanged as a ``#@#`` key's value."""
    return not any(char in value for char in "'\"\\") and value == value.strip()


def quote_key_value(name: str, value: str) -> str:
    """``value`` for ``#@#name = ...``: as ``quote_value``, and read back the same by the
    original, which reads a key's value up to its first quote (after turning ``'`` into
    ``"``) and drops each backslash-``t``: so a value holding a quote or a backslash, or
    blanks at its ends, is refused."""
    if not original_key_safe(value):
        raise CtysError(
            f"#@#{name} value {value!r}: quotes, backslashes and leading/trailing blanks "
            "cannot be read back by the original ctys"
        )
    return quote_value(value)


def render_conf(answers: ConfAnswers) -> str:
    """The conf file text for ``answers`` (ctys keys first, then the media variables), in
    the original's names (``#@#MAC0``/``#@#IP0``, ``HDDBOOTIMAGE``, ``CDIMAGE``,
    ``KERNELIMAGE``, ``INITRDIMAGE``), marked ``#@#CTYSFORMAT`` (docs/conf-format.md)."""
    keys: list[tuple[str, str | None]] = [
        ("LABEL", answers.label),
        ("UUID", answers.uuid),
        ("MAC0", answers.mac),
        ("IP0", answers.ip),
        ("OS", answers.os),
        ("DIST", answers.dist),
        ("ACCELERATOR", answers.accelerator.value),
        ("MEMSIZE", str(answers.memsize_mb)),
        ("VCPU", str(answers.vcpu)),
        ("HDDSIZE", answers.hdd_size),
        # New VMs get virtio disks (/dev/vda); confs without the key keep IDE.
        ("DISKIF", "virtio" if answers.hdd else None),
        *answers.extra_keys,
        (CTYSFORMAT_KEY, CTYSFORMAT),
    ]
    variables: list[tuple[str, str | None]] = [
        ("HDDBOOTIMAGE", answers.hdd),
        ("CDIMAGE", answers.cdrom),
        ("KERNELIMAGE", answers.kernel),
        ("INITRDIMAGE", answers.initrd),
        ("APPEND", answers.append),
        *answers.extra_vars,
    ]
    lines = [
        "#!/bin/sh",
        MAGIC,
        f"# QEMU VM {quote_value(answers.label)}, written by ctys-createConfVM.",
        "# Data, not code: ctys parses this file (see docs/conf-format.md).",
    ]
    lines += [f"#@#{name} = {quote_key_value(name, value)}" for name, value in keys if value]
    lines.append("")
    lines += [f"{name}={quote_value(value)}" for name, value in variables if value]
    return "\n".join(lines) + "\n"
