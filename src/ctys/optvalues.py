"""Values of the original's generic options (ctys(1) "Generic Options"), parsed.

Pure functions, one per option value: ``-c`` (use of the cacheDB), ``-C`` (the runtime
data cache, and ctys' inventory control), ``-b`` (background and seq/par), ``-d`` (debug
bit arrays in any bash integer notation), ``-g`` (X geometry with the screen extension),
``-z`` (ssh pseudo-terminals), ``-L`` (execution location), ``-A`` (ambiguity). Every
malformed value raises ``UsageError`` naming the token. Imports only ``ctys.errors`` and
``ctys.invocation``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ctys.errors import UsageError
from ctys.invocation import CacheControl, CacheWhere, DebugSpec, Location

__all__ = [
    "CacheUse",
    "parse_ambiguity",
    "parse_background",
    "parse_bash_int",
    "parse_cache_use",
    "parse_debug",
    "parse_geometry_option",
    "parse_location",
    "parse_pty",
    "parse_runtime_cache",
]

_TRUE = frozenset({"1", "on", "yes", "true"})
_FALSE = frozenset({"0", "off", "no", "false"})
_UINT32 = 2**32 - 1
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"  # bash bases up to 36 (case-insensitive)

# --- -c ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CacheUse:
    """``-c``: ``off`` switches the inventory off; else which cacheDB and whether alone."""

    off: bool
    where: CacheWhere = CacheWhere.BOTH
    only: bool = False


def parse_cache_use(text: str) -> CacheUse:
    """``ON[,BOTH|LOCAL|REMOTE][,ONLY]|OFF``, any case; ON is implied by the others, so the
    bare forms the original's group files use (``-c local``, ``-c only``) are the same."""
    words = [w.strip().upper() for w in text.split(",")]
    if words == ["OFF"]:
        return CacheUse(off=True)
    where: CacheWhere | None = None
    only = False
    for word in words:
        if word == "ON":
            continue
        if word == "ONLY":
            only = True
        elif word in CacheWhere.__members__ and where is None:
            where = CacheWhere[word]
        else:
            raise UsageError(
                f"bad value '{text}' for -c: -c takes ON[,BOTH|LOCAL|REMOTE][,ONLY] or OFF "
                "(the original's use of the cacheDB); ctys' inventory file is --inventory PATH"
            )
    return CacheUse(off=False, where=where or CacheWhere.BOTH, only=only)


# --- -C ----------------------------------------------------------------------------------

# The original's runtime data cache suboptions (-C ON,...): ctys keeps no runtime data
# between calls, so they are accepted with a note.
_RUNTIME_FLAGS = frozenset({"ON", "KEEP", "KEEPALL", "ONLY", "RAW", "AUTO"})
_RUNTIME_VALUED = frozenset({"FIN", "FOUT", "LIFETIME"})


def parse_runtime_cache(text: str) -> tuple[CacheControl, str | None]:
    """``-C``: ctys' inventory control (``on|off|rebuild|clear|list``), or the original's
    runtime data cache ``ON[,KEEP][,KEEPALL][,ONLY][,RAW][,(FIN|FOUT):<path>]
    [,LIFETIME:<s>][,AUTO]`` (accepted: ``CacheControl.ON`` and a note, as ctys reads the
    runtime data fresh on every call)."""
    lowered = text.lower()
    if lowered in {c.value for c in CacheControl}:
        return CacheControl(lowered), None
    words = text.split(",")
    for word in words:
        key, sep, value = word.partition(":")
        key = key.upper()
        if key in _RUNTIME_FLAGS and not sep:
            continue
        if key in _RUNTIME_VALUED and value:
            if key == "LIFETIME" and not value.isdigit():
                raise UsageError(f"bad LIFETIME '{value}' in -C '{text}': expected seconds")
            continue
        raise UsageError(
            f"bad value '{text}' for -C: expected on|off|rebuild|clear|list, or the "
            "original's ON[,KEEP][,ONLY][,RAW][,FIN:<file>|FOUT:<file>][,LIFETIME:<s>][,AUTO]"
        )
    return CacheControl.ON, (
        f"-C {text}: ctys keeps no runtime data cache between calls (it reads the running "
        "VMs fresh each time); the suboptions have no effect"
    )


# --- -b ----------------------------------------------------------------------------------

_SEQ = frozenset({"sequential", "seq", "2"})
_PAR = frozenset({"parallel", "par", "3"})


def parse_background(text: str) -> tuple[bool, bool | None]:
    """``-b stack|(sync|off|0|async|on|1)[,(sequential|seq|2)|(parallel|par|3)]``:
    (background, parallel). ``stack`` is the original's forced SYNC,SEQ."""
    first, comma, second = text.lower().partition(",")
    if first == "stack" and not comma:
        return False, False
    if first in {"sync"} | _FALSE:
        background = False
    elif first in {"async"} | _TRUE:
        background = True
    else:
        first = ""
    if not first or (comma and second not in _SEQ | _PAR):
        raise UsageError(
            f"bad value '{text}' for -b: expected stack or "
            "(sync|off|0|async|on|1)[,(seq|sequential|2)|(par|parallel|3)]"
        )
    return background, (second in _PAR) if second else None


# --- -z ----------------------------------------------------------------------------------


def parse_pty(text: str) -> int:
    """``-z NOPTY|PTY|PTY,PTY|<n>``: how many ``-t`` ssh gets (0, 1, 2...)."""
    words = text.upper().split(",")
    if words == ["NOPTY"]:
        return 0
    if words and all(w == "PTY" for w in words) and len(words) <= 2:
        return len(words)
    if text.isascii() and text.isdigit():
        return int(text)
    raise UsageError(f"bad value '{text}' for -z: expected NOPTY|PTY|PTY,PTY|1|2")


# --- -A ----------------------------------------------------------------------------------


def parse_ambiguity(text: str) -> bool:
    """``-A <0|off|1|on>``: whether an address may match several VMs."""
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise UsageError(f"bad value '{text}' for -A: expected 0|off|1|on")


# --- -L ----------------------------------------------------------------------------------

_LOCATIONS = {
    "LOCALONLY": Location.LOCALONLY,
    "LO": Location.LOCALONLY,
    "CONNECTIONFORWARDING": Location.CONNECTIONFORWARDING,
    "CF": Location.CONNECTIONFORWARDING,
    "DISPLAYFORWARDING": Location.DISPLAYFORWARDING,
    "DF": Location.DISPLAYFORWARDING,
    "CLIENTONLY": Location.CLIENTONLY,
    "CO": Location.CLIENTONLY,
    "SERVERONLY": Location.SERVERONLY,
    "SO": Location.SERVERONLY,
}


def parse_location(text: str) -> Location:
    """``-L LOCALONLY|LO|CONNECTIONFORWARDING|CF|DISPLAYFORWARDING|DF|CLIENTONLY|CO|
    SERVERONLY|SO`` (any case)."""
    try:
        return _LOCATIONS[text.upper()]
    except KeyError:
        raise UsageError(
            f"bad value '{text}' for -L: expected LOCALONLY|LO, CONNECTIONFORWARDING|CF, "
            "DISPLAYFORWARDING|DF, CLIENTONLY|CO or SERVERONLY|SO"
        ) from None


# --- -g ----------------------------------------------------------------------------------

# Patterns as text, compiled (and cached by re) at their first use: most command lines
# use none of them.
_XGEOMETRY = r"[1-9][0-9]*x[1-9][0-9]*(?:[+-][0-9]+[+-][0-9]+)?"
_SCREEN_PART = r"[A-Za-z0-9_.\[\],/~$-]*"


def parse_geometry_option(text: str) -> tuple[str, tuple[str, ...]]:
    """``-g WxH[(+|-)X(+|-)Y][:<screen>[:<layout>[:<file>]]]``: the X geometry and the
    original's Xinerama extension (screen section name or index, ServerLayout, xorg.conf)."""
    geometry, colon, extra = text.partition(":")
    parts = tuple(extra.split(":")) if colon else ()
    bad = len(parts) > 3 or any(not re.fullmatch(_SCREEN_PART, p, re.ASCII) for p in parts)
    if not re.fullmatch(_XGEOMETRY, geometry, re.ASCII) or bad or (parts and not parts[0]):
        raise UsageError(
            f"bad geometry '{text}' for -g: expected WxH[+X+Y][:<screen>[:<layout>[:<file>]]]"
        )
    return geometry, parts


# --- -d ----------------------------------------------------------------------------------


def parse_bash_int(text: str, what: str) -> int:
    """A 32-bit number in bash notation: ``N``, ``0xH``, ``0N`` (octal), ``B#DIGITS``
    (base 2..36)."""
    value: int | None = None
    lowered = text.lower()
    if "#" in lowered:
        base_text, _, digits = lowered.partition("#")
        if base_text.isascii() and base_text.isdigit() and 2 <= int(base_text) <= 36:
            value = _digits_in_base(digits, int(base_text))
    elif lowered.startswith("0x"):
        value = _digits_in_base(lowered[2:], 16)
    elif lowered.startswith("0") and len(lowered) > 1:
        value = _digits_in_base(lowered[1:], 8)
    else:
        value = _digits_in_base(lowered, 10)
    if value is None or value > _UINT32:
        raise UsageError(
            f"bad value '{text}' for {what}: expected a 32-bit number (N, 0xN, 0N, BASE#N)"
        )
    return value


def _digits_in_base(digits: str, base: int) -> int | None:
    if not digits or any(c not in _DIGITS[:base] for c in digits):
        return None
    return int(digits, base)


_DEBUG_MODES = {"P": "PATTERN", "PATTERN": "PATTERN", "MIN": "MIN", "MAX": "MAX"}
_DEBUG_KEYS = {
    "S": "subsystems", "SUBSYSTEM": "subsystems",
    "W": "warning", "WARNING": "warning",
    "I": "info", "INFO": "info",
    "F": "files", "FILELIST": "files",
    "PFIN": "printfinal", "PRINTFINAL": "printfinal",
}  # fmt: skip


def parse_debug(text: str) -> DebugSpec:
    """The original's ``-d <bits>[,P|MIN|MAX][,S:<bits>][,W:<0-9>][,I:<0-9>]
    [,F:<file>[%<file>...][,EXCLUDE|INCLUDE]][,PFIN[:<0-9>]]`` (keys any case; its own
    scripts also chain ``s:16:w:0`` in one item)."""
    items = text.split(",")
    spec: dict[str, object] = {"level": parse_bash_int(items[0], "-d")}
    for item in items[1:]:
        _debug_item(text, item, spec)
    return DebugSpec(**spec)  # type: ignore[arg-type]


def _debug_item(text: str, item: str, spec: dict[str, object]) -> None:
    word = item.upper()
    if word in _DEBUG_MODES:
        spec["mode"] = _DEBUG_MODES[word]
        return
    if word in ("EXCLUDE", "INCLUDE"):
        spec["files_mode"] = word
        return
    if word in ("PFIN", "PRINTFINAL"):
        spec["printfinal"] = 0
        return
    fields = item.split(":")
    if len(fields) % 2 or not fields[0]:
        raise UsageError(f"bad item '{item}' in -d '{text}'")
    for key_text, value in zip(fields[::2], fields[1::2], strict=True):
        key = _DEBUG_KEYS.get(key_text.upper())
        if key is None or not value:
            raise UsageError(f"bad item '{item}' in -d '{text}'")
        if key == "files":
            spec[key] = tuple(value.split("%"))
        elif key == "subsystems":
            spec[key] = parse_bash_int(value, f"-d {key_text}:")
        elif value.isascii() and value.isdigit() and len(value) == 1:
            spec[key] = int(value)
        else:
            raise UsageError(f"bad value '{value}' for {key_text}: in -d '{text}': expected 0-9")


def debug_text(spec: DebugSpec) -> str:
    """``spec`` as a ``-d`` value that ``parse_debug`` reads back equal."""
    items = [str(spec.level)]
    if spec.mode != "MAX":
        items.append(spec.mode)
    if spec.subsystems is not None:
        items.append(f"S:{spec.subsystems}")
    if spec.warning is not None:
        items.append(f"W:{spec.warning}")
    if spec.info is not None:
        items.append(f"I:{spec.info}")
    if spec.files:
        items.append("F:" + "%".join(spec.files))
    if spec.files_mode != "INCLUDE":
        items.append(spec.files_mode)
    if spec.printfinal is not None:
        items.append(f"PFIN:{spec.printfinal}")
    return ",".join(items)
