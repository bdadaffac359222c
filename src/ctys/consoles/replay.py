"""The last lines a console printed (its log), escaped for the terminal: what an attacher
is shown before the live stream, so the user sees where the guest is.

Bounded twice: at most ``REPLAY_LINES`` lines and ``REPLAY_BYTES`` bytes of the log's end
(the log may be huge and is the guest's writing). Every control character (escape
sequences, carriage returns, bells) is shown escaped (``ctys.textescape``), never sent.
"""

from __future__ import annotations

import os
from pathlib import Path

from ctys.textescape import printable

REPLAY_LINES = 20
REPLAY_BYTES = 4096


def tail_lines(data: bytes, *, at_start: bool, lines: int = REPLAY_LINES) -> list[str]:
    """The last ``lines`` lines of ``data`` (a log's end), each escaped; ``at_start``: the
    data begins at the start of the log (else its first, cut line is dropped)."""
    parts = data.split(b"\n")
    if not at_start:
        parts = parts[1:]  # begins in the middle of a line
    if parts and parts[-1] == b"":
        parts.pop()  # the log ended with a newline
    out = []
    for raw in parts[-lines:] if lines > 0 else []:
        # Serial consoles end lines with CR LF; the CR is layout, not content.
        text = raw.rstrip(b"\r").decode("utf-8", "replace")
        out.append(printable(text, keep="\t"))
    return out


def replay_text(log: Path, *, lines: int = REPLAY_LINES, max_bytes: int = REPLAY_BYTES) -> str:
    """The lines to show before attaching (``\\r\\n``-ended, for a raw terminal), framed by
    two marker lines; empty when the log is missing or empty."""
    try:
        with log.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            start = max(0, size - max_bytes)
            fh.seek(start)
            data = fh.read(max_bytes)
    except OSError:
        return ""
    shown = tail_lines(data, at_start=start == 0, lines=lines)
    if not shown:
        return ""
    head = f"[ctys] the console's last {len(shown)} line(s):"
    return "\r\n".join([head, *shown, "[ctys] live:"]) + "\r\n"
