"""Show text with its non-printable characters escaped (pure; used by every output path and
by the cacheDB format, see ``ctys.cli.safeout`` and ``ctys.inventory.cachedb``)."""

from __future__ import annotations


def _escaped(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")


def printable(text: str, keep: str = "") -> str:
    """``text`` with every non-printable character (C0, DEL, C1, line/paragraph separators,
    bidi and other format characters) shown as a Python escape (``\\x1b``, ``\\n``,
    ``\\u202e``); characters in ``keep`` stay as they are."""
    if text.isprintable():
        return text  # the usual case, one C-level scan
    return "".join(ch if ch.isprintable() or ch in keep else _escaped(ch) for ch in text)
