"""The clone's conf text: the source conf with its label, UUID, MACs and disk paths
replaced, every other line kept byte for byte (pure: text in, text out).

The lines to change are found by the conf parser (``ctys.conf.lenient``, which reads both
``NAME.conf`` and the 01.11 ``NAME.ctys``), never by pattern-matching the text; each is
replaced by one line the plugin's conf writer quotes (``newconf.writer``). The result is
parsed again and must yield the new values, so a conf whose assignment shares a line with
other statements is refused rather than half-changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ctys.conf.lenient import parse_vm_conf_text
from ctys.errors import ConfError, CtysError
from ctys.plugins.qemu.confs.mapping import IdentitySources, identity_sources
from ctys.plugins.qemu.newconf.writer import quote_key_value, quote_value


@dataclass(frozen=True)
class NewIdentity:
    """What the clone's conf says instead: ``macs`` by conf name (``MAC0``...), ``disks``
    by the conf name that named each disk (``HDDBOOTIMAGE``, ``#@#HDD``...)."""

    label: str
    uuid: str
    macs: Mapping[str, str]
    disks: Mapping[str, str]


def sources_of(text: str, path: Path) -> IdentitySources:
    """Where the conf ``text`` (of ``path``) holds label, UUID, MACs and disks."""
    raw, lines = parse_vm_conf_text(text, path)
    return identity_sources(raw, lines)


def rewrite_conf(text: str, path: Path, new: NewIdentity) -> str:
    """``text`` (the conf at ``path``) with every LABEL/UUID/MAC occurrence and the named
    disks set to ``new``'s values. ``ConfError`` when a line cannot be replaced alone."""
    sources = sources_of(text, path)
    changes: dict[int, str] = {}
    wanted: dict[str, str] = {}
    for name, _value, _line in sources.label:
        wanted[name] = new.label
    for name, _value, _line in sources.uuid:
        wanted[name] = new.uuid
    for name, _value, _line in sources.macs:
        wanted[name] = new.macs[_bare(name)]
    for name, _value, _line, _path in sources.disks:
        if name in new.disks:
            wanted[name] = new.disks[name]
    located = {
        name: line
        for group in (sources.label, sources.uuid, sources.macs)
        for name, _v, line in group
    } | {name: line for name, _v, line, _p in sources.disks}
    lines = text.replace("\r\n", "\n").split("\n")
    for name, value in wanted.items():
        number = located[name]
        if not 1 <= number <= len(lines):
            raise ConfError(str(path), number, f"{name}: cannot find its line to rewrite")
        changes[number] = _replacement(lines[number - 1], name, value, path, number)
    for number, replacement in changes.items():
        lines[number - 1] = replacement
    result = "\n".join(lines)
    _check(result, path, wanted)
    return result


def _bare(name: str) -> str:
    return name.removeprefix("#@#")


def _replacement(old: str, name: str, value: str, path: Path, number: int) -> str:
    """The line that says ``name = value`` in place of ``old`` (same kind: key or variable;
    an ``export`` and the indentation kept)."""
    indent = old[: len(old) - len(old.lstrip(" \t"))]
    stripped = old.lstrip(" \t")
    try:
        if name.startswith("#@#"):
            if not stripped.startswith("#@#"):
                raise ConfError(str(path), number, f"{name}: not on a line of its own")
            return f"{indent}#@#{_bare(name)} = {quote_key_value(_bare(name), value)}"
        export = re.match(r"export[ \t]+", stripped)
        rest = stripped[export.end() :] if export else stripped
        if not rest.startswith(f"{name}="):
            raise ConfError(str(path), number, f"{name}: not on a line of its own")
        prefix = indent + (export.group() if export else "")
        line = f"{prefix}{name}={quote_value(value)}"
    except ConfError:
        raise
    except CtysError as err:  # the writer's refusal of a value it cannot quote
        raise ConfError(str(path), number, f"{name}: {err}") from None
    # The old line must have held this one assignment and nothing else.
    alone, _ = parse_vm_conf_text(rest, path)
    if set(alone.variables) - {name} or alone.keys:
        raise ConfError(str(path), number, f"{name} shares its line with other statements")
    return line


def _check(text: str, path: Path, wanted: Mapping[str, str]) -> None:
    raw, _ = parse_vm_conf_text(text, path)
    for name, value in wanted.items():
        got = raw.keys.get(_bare(name)) if name.startswith("#@#") else raw.variables.get(name)
        if got != value:
            raise ConfError(str(path), 0, f"{name}: the rewritten conf does not read back")
