"""Reading a pseudo-terminal in tests: the bytes a program wrote to it, up to a marker."""

from __future__ import annotations

import os
import select
import time


def pty_read_until(fd: int, marker: bytes, timeout: float = 60) -> bytes:
    """Everything read from ``fd`` until ``marker`` appears; fails the test (showing the
    tail of what came) when the other side closes or ``timeout`` seconds pass."""
    buf = b""
    deadline = time.monotonic() + timeout
    while marker not in buf:
        left = deadline - time.monotonic()
        assert left > 0, buf[-400:]
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side closed
                chunk = b""
            assert chunk, buf[-400:]
            buf += chunk
    return buf
