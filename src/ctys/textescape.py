"""Show text with its non-printable characters escaped (pure; used by every output path and
by the cacheDB format, see ``ctys.safestream`` and ``ctys.inventory.cachedb``).

Core utility: imports nothing of ctys."""

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


def one_line(message: str) -> str:
    """The message as one printable line: line breaks, escape sequences and other control
    characters a user typed (or a file held) are shown escaped, never sent to the terminal."""
    return printable(message)
