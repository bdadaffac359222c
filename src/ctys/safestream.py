"""Terminal-safe output: nothing ctys prints can drive the user's terminal.

Text that ctys prints comes from places it does not control: conf files, inventory rows
imported from a cacheDB, the name of a VM someone else started, what a guest
reports, file names. An ESC, BEL, CSI (``\\x9b``) or other control character in such text
would be a command to the terminal (set the title, move the cursor, rewrite what is shown).
So every stream a ctys command writes to is wrapped once, at the entry point, in a
``SafeWriter`` that shows those characters escaped (``\\x1b``), and table/terse cells are
escaped with ``printable`` (which also escapes line breaks, so one value stays one cell).

Only trusted writers — rich drawing a table or a spinner on a terminal, with its own style
sequences — write to the stream underneath (``raw_stream``), and they escape their cells.

Core utility, beside ``ctys.textescape`` (the escaping itself), which is all it imports.
"""

from __future__ import annotations

import io
from typing import TextIO, cast

from ctys.textescape import printable


class SafeWriter(io.TextIOBase):
    """A text stream that writes to ``raw`` with control characters escaped.

    Tabs are kept, and so are the line breaks that *end* a piece written (``print`` writes
    its text, then ``"\\n"``; the renderers write whole lines): a line break inside a piece
    comes from data (a label ``"a\\nb"``) and is shown as ``\\n``, so one record stays one
    line. Text of several lines is written line by line (``writelines``).
    """

    def __init__(self, raw: TextIO) -> None:
        super().__init__()
        self.raw = raw

    def __del__(self) -> None:
        # The stream underneath is not ours: collecting the wrapper must not flush or close
        # it (io's finaliser would, and a failing flush there cannot be reported).
        pass

    def write(self, text: str) -> int:
        body = text.rstrip("\n")
        ending = text[len(body) :]
        self.raw.write(printable(body, keep="\t") + ending)
        return len(text)

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return self.raw.isatty()

    def fileno(self) -> int:
        return self.raw.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.raw, "encoding", None) or "utf-8"


def write_text(out: TextIO, text: str) -> None:
    """Write ``text`` of several lines (help, indented JSON) line by line, so a
    ``SafeWriter`` keeps its line breaks; a final newline is added when missing."""
    out.writelines(line + "\n" for line in text.splitlines())


def safe_stream(stream: TextIO) -> TextIO:
    """``stream`` wrapped in a ``SafeWriter`` (once: a wrapped stream is returned as is)."""
    if isinstance(stream, SafeWriter):
        return cast(TextIO, stream)
    return cast(TextIO, SafeWriter(stream))


def raw_stream(stream: TextIO) -> TextIO:
    """The stream under a ``SafeWriter`` (for rich, which writes its own escape sequences
    and whose callers escape every cell), or ``stream`` itself."""
    return stream.raw if isinstance(stream, SafeWriter) else stream
