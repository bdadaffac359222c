"""What the definition tools (ctys-groups, ctys-macros) share: an argparse whose errors are
one line, and the folder/file tree views of their search paths (``-S``, ``-F``, ``-D``)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from ctys.errors import UsageError

__all__ = ["OneLineParser", "add_common_options", "answer_common", "print_tree"]


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one-line ``UsageError``s instead of usage dumps."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """The options both tools have as the original: -d, -D, -e, -F, -H, -S, -V, -X."""
    parser.add_argument("-d", dest="debug", metavar="LEVEL", help="debug level (accepted)")
    parser.add_argument("-D", dest="depth", type=int, metavar="N", help="depth of -S/-F")
    parser.add_argument(
        "-e", dest="edit", nargs="?", const="", metavar="LIST", help="refused: no editor is run"
    )
    parser.add_argument("-F", dest="filetree", action="store_true", help="file tree")
    parser.add_argument("-S", dest="dirtree", action="store_true", help="folder tree")
    parser.add_argument(
        "-H", dest="long_help", nargs="?", const="", metavar="OPT", help="long help"
    )
    parser.add_argument("-V", dest="version", action="store_true", help="version")
    parser.add_argument("-X", dest="terse", action="store_true", help="terse: ';'-separated")


def answer_common(
    options: argparse.Namespace,
    parser: argparse.ArgumentParser,
    out: TextIO,
    what: str,
    path: Sequence[Path],
    unders: Sequence[str] = ("",),
) -> bool:
    """Answer the options of ``add_common_options`` that end the command (-V, -H, -S/-F);
    True when one did. ``-e`` is refused: the original opened an editor, ctys runs none."""
    if options.version:
        from ctys import __version__

        print(f"{parser.prog} {__version__}", file=out)
        return True
    if options.long_help is not None:
        parser.print_help(out)
        return True
    if options.edit is not None:
        where = ":".join(str(p) for p in path)
        raise UsageError(
            f"-e (edit {what} in an editor) is not supported: edit the files in {where}"
        )
    if options.depth is not None and not (options.dirtree or options.filetree):
        raise UsageError("-D needs -S or -F")
    if not (options.dirtree or options.filetree):
        return False
    for under in unders:
        print_tree(out, path, files=options.filetree, depth=options.depth, under=under)
    return True


def print_tree(
    out: TextIO, folders: Sequence[Path], *, files: bool, depth: int | None, under: str = ""
) -> None:
    """Each existing search folder (or its subfolder ``under``) and what it holds, indented
    two blanks a level, at most ``depth`` levels: folders (``/`` appended), with ``files``
    the files too."""
    for folder in folders:
        base = folder / under if under else folder
        if base.is_dir():
            print(f"{base}/", file=out)
            _print_level(out, base, 1, files=files, depth=depth)


def _print_level(out: TextIO, folder: Path, level: int, *, files: bool, depth: int | None) -> None:
    if depth is not None and level > depth:
        return
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        is_dir = entry.is_dir(follow_symlinks=False)
        if entry.name.startswith(".") or not (is_dir or files):
            continue
        print("  " * level + entry.name + ("/" if is_dir else ""), file=out)
        if is_dir:
            _print_level(out, Path(entry.path), level + 1, files=files, depth=depth)
