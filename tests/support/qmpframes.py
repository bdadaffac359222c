"""Reading what a QMP client sends, for fake monitors in tests: JSON objects back to back,
with no newline between them (QEMU parses a stream)."""

from __future__ import annotations

import json


class JsonObjects:
    """Text fed in as it arrives; each complete JSON object handed out once."""

    def __init__(self) -> None:
        self._decoder = json.JSONDecoder()
        self._buffer = ""

    def feed(self, text: str) -> list[dict[str, object]]:
        """The objects that ``text`` completes, in order."""
        self._buffer += text
        found: list[dict[str, object]] = []
        while self._buffer.strip():
            try:
                obj, end = self._decoder.raw_decode(self._buffer.lstrip())
            except ValueError:
                break
            self._buffer = self._buffer.lstrip()[end:]
            found.append(obj)
        return found
