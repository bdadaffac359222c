"""Read a VM conf file of either generation: ``NAME.conf`` strictly, a 01.11 ``NAME.ctys``
leniently.

The original's 01.11 ``NAME.ctys`` is a shell fragment its wrapper sources: beside the
``#@#`` keys and plain assignments it holds ``case``/``if`` blocks and ``[ ... ]&&...``
lines (see the templates the original ships). The original's ENUMERATE never ran them either: it
read the ``#@#`` lines with ``sed``. So a ``.ctys`` that the strict parser refuses is read
again with every line it cannot take as data passed over: control-flow blocks as a whole,
then each line the parser still refuses. Line numbers stay those of the file. Nothing is
ever executed; the lines passed over are in ``RawConf.skipped_lines``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from ctys.conf.parser import SourceLines, parse_conf_text_with_lines, read_conf_text
from ctys.conf.rawconf import RawConf
from ctys.errors import ConfError

LENIENT_SUFFIX = ".ctys"
# First words that open / close a shell block (whose lines are code, never data).
_OPENERS = frozenset({"if", "case", "for", "while", "until", "select", "function"})
_CLOSERS = frozenset({"fi", "esac", "done", "}"})
_FIRST_WORD = re.compile(r"[ \t]*([^ \t;&|(]+)")
_FUNCTION_START = re.compile(r"[ \t]*[A-Za-z_][A-Za-z0-9_]*[ \t]*\(\)")
# A line that can be data: blank, a comment, an assignment or 'export ...'.
_DATA_LINE = re.compile(r"[ \t]*(?:$|#|export[ \t]|[A-Za-z_][A-Za-z0-9_]*=)")
_MAX_RETRIES = 100


def parse_vm_conf_text(text: str, path: Path) -> tuple[RawConf, SourceLines]:
    """``text`` (read from ``path``) parsed; for a ``.ctys`` file that is partly shell code,
    its data lines only (module docstring). Other files: ``ConfError`` as the parser says."""
    try:
        return parse_conf_text_with_lines(text, path)
    except ConfError:
        if path.suffix != LENIENT_SUFFIX:
            raise
    return _parse_data_lines(text, path)


def read_vm_conf(path: Path) -> tuple[RawConf, SourceLines]:
    """Read and parse the conf file at ``path`` (``parse_vm_conf_text``)."""
    return parse_vm_conf_text(read_conf_text(path), path)


def _parse_data_lines(text: str, path: Path) -> tuple[RawConf, SourceLines]:
    lines = text.replace("\r\n", "\n").split("\n")
    skipped = set(_block_lines(lines)) | set(_command_lines(lines))
    # Each retry passes over one more line the parser refuses; the lines left are data
    # lines, so few retries are needed (the cap keeps a hostile file from costing more).
    for _ in range(min(len(lines), _MAX_RETRIES) + 1):
        kept = ["" if number in skipped else line for number, line in enumerate(lines, 1)]
        try:
            raw, where = parse_conf_text_with_lines("\n".join(kept), path)
        except ConfError as err:
            if err.line < 1 or err.line in skipped or err.line > len(lines):
                raise
            skipped.add(err.line)
            continue
        return dataclasses.replace(raw, skipped_lines=tuple(sorted(skipped))), where
    raise ConfError(str(path), 0, f"more than {_MAX_RETRIES} lines that are neither data nor code")


def _command_lines(lines: list[str]) -> list[int]:
    """Numbers (1-based) of the lines that start with a command, not data (``[ ... ]&&``,
    ``echo``, ``. file``). A line continuing a quote of the line above is data, but it is
    rare in a conf; it is passed over too (the parser then names the opening line)."""
    return [number for number, line in enumerate(lines, 1) if not _DATA_LINE.match(line)]


def _block_lines(lines: list[str]) -> list[int]:
    """Numbers (1-based) of the lines inside shell blocks (``if``..``fi``, ``case``..``esac``,
    loops, functions), the opening and closing lines included."""
    inside: list[int] = []
    depth = 0
    for number, line in enumerate(lines, 1):
        match = _FIRST_WORD.match(line)
        word = match.group(1) if match else ""
        if word.startswith("#"):
            continue  # comments stay: '#@#' keys count wherever they are (as for sed)
        if word in _OPENERS or _FUNCTION_START.match(line):
            depth += 1
        if depth:
            inside.append(number)
        if word in _CLOSERS or re.search(r"[ \t;](fi|esac|done)[ \t]*;?[ \t]*$", line):
            depth = max(0, depth - 1)
    return inside
