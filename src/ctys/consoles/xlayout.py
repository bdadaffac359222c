"""The screen part of ``-g WxH[+X+Y]:<screen>[:<layout>[:<file>]]`` (ctys(1)): a screen of
an xorg.conf ``ServerLayout`` named by its Screen section name or index, whose position
becomes the window's offset.

Only absolute positions (``Screen [N] "name" X Y``) are read; a screen placed relative to
another (``RightOf``...) or a layout or file that is not there gives ``None`` and the caller
says so in one line. ``ALL`` as the layout (as in the original's group files) is the first
ServerLayout section. Conf text is data: it is parsed, never run.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path

__all__ = ["DEFAULT_XORG_CONF", "screen_geometry", "screen_offset"]

DEFAULT_XORG_CONF = Path("/etc/X11/xorg.conf")
_GEOMETRY = re.compile(r"([0-9]+x[0-9]+)(?:([+-][0-9]+)([+-][0-9]+))?", re.ASCII)


def _layouts(text: str) -> list[tuple[str, list[list[str]]]]:
    """Each ServerLayout section: its Identifier and the words of its Screen lines."""
    layouts: list[tuple[str, list[list[str]]]] = []
    current: tuple[str, list[list[str]]] | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if not words:
            continue
        key = words[0].lower()
        if key == "section" and len(words) > 1 and words[1].lower() == "serverlayout":
            current = ("", [])
        elif key == "endsection" and current is not None:
            layouts.append(current)
            current = None
        elif current is not None and key == "identifier" and len(words) > 1:
            current = (words[1], current[1])
        elif current is not None and key == "screen":
            current[1].append(words[1:])
    return layouts


def screen_offset(text: str, screen: str, layout: str = "") -> tuple[int, int] | None:
    """The X, Y of ``screen`` (a Screen section name, or its index in the layout) in
    ``layout`` (its Identifier; empty or ``ALL``: the first) of the xorg.conf ``text``."""
    layouts = _layouts(text)
    if layout and layout.upper() != "ALL":
        layouts = [entry for entry in layouts if entry[0] == layout]
    if not layouts:
        return None
    for words in layouts[0][1]:
        index = words[0] if words and words[0].isdigit() else None
        rest = words[1:] if index is not None else words
        if not rest or (screen not in (rest[0], index)):
            continue
        position = rest[1:3]
        if len(position) == 2 and all(p.lstrip("-").isdigit() for p in position):
            return int(position[0]), int(position[1])
        return None
    return None


def screen_geometry(geometry: str, screen: Sequence[str]) -> str | None:
    """``WxH+X+Y`` placed on the screen that ``screen`` (``<screen>[:<layout>[:<file>]]``)
    names: its origin plus the offset given, or ``None`` when it cannot be found."""
    match = _GEOMETRY.fullmatch(geometry)
    if match is None or not screen:
        return None
    path = Path(screen[2]).expanduser() if len(screen) > 2 and screen[2] else DEFAULT_XORG_CONF
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    offset = screen_offset(text, screen[0], screen[1] if len(screen) > 1 else "")
    if offset is None:
        return None
    x = offset[0] + int(match.group(2) or 0)
    y = offset[1] + int(match.group(3) or 0)
    return f"{match.group(1)}{x:+d}{y:+d}"
