"""``ctys-macros``: list, show and expand the macros of ``CTYS_MACRO_PATH`` (the
original's ctys-macros(1)).

    ctys-macros [-l] [-a] [-c] [-N | -E] [-f FILE] [-S|-F [-D N]] [-X] [-d L] [-V] [MACRO ...]

``MACRO ...``: each as ``<name>=<<expansion>>``. ``-l`` (the default when neither ``-a`` nor
``-c`` is given): the macro files on the search path, the first of a name the one used.
``-a``/``-c``: the names of the atoms (values without a macro) / the combined macros;
``-N`` with their values as written, ``-E`` (implies ``-c``) expanded. ``-f``: the file
(default ``default``). Exit 0, 1 on an error, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ctys.cli.toolargs import OneLineParser, add_common_options, answer_common
from ctys.macros import DEFAULT_FILE, MacroSource, expand_argv, macro_path, references
from ctys.runguard import run_guarded
from ctys.safestream import safe_stream

PROG = "ctys-macros"


def _parser() -> OneLineParser:
    parser = OneLineParser(
        prog=PROG,
        allow_abbrev=False,
        description="List, show and expand the macros of CTYS_MACRO_PATH (~/.ctys/macros).",
    )
    parser.add_argument("-a", dest="atoms", action="store_true", help="list the atoms")
    parser.add_argument("-c", dest="combined", action="store_true", help="list combined macros")
    parser.add_argument("-E", dest="expand", action="store_true", help="expanded (implies -c)")
    parser.add_argument("-N", dest="defines", action="store_true", help="values as written")
    parser.add_argument("-f", dest="file", default=DEFAULT_FILE, metavar="FILE", help="the file")
    parser.add_argument("-l", dest="files", action="store_true", help="list the macro files")
    add_common_options(parser)
    parser.add_argument("macros", nargs="*", metavar="MACRO", help="macros to expand")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ctys-macros`` with ``argv`` (``sys.argv[1:]`` when None); return exit status."""
    args = sys.argv[1:] if argv is None else list(argv)

    def body() -> int:
        out = safe_stream(sys.stdout)
        try:
            options = _parser().parse_args(args)
        except SystemExit as exc:  # argparse after -h
            return int(exc.code or 0)
        return run(options, out)

    return run_guarded(PROG, body, lambda: 0)


def run(options: argparse.Namespace, out: TextIO) -> int:
    """Carry out parsed options; raise ``CtysError`` on failure."""
    path = macro_path()
    if answer_common(options, _parser(), out, "macros", path):
        return 0
    source = MacroSource(path)
    file = source.find(options.file)
    sep = ";" if options.terse else "="
    if options.macros:
        for name in (n for word in options.macros for n in word.split("%") if n):
            expansion = expand_argv([f"MACRO:{name}%{file}"], source).words
            print(f"{name}{sep}<{' '.join(expansion)}>", file=out)
        return 0
    combined = options.combined or options.expand
    if not (options.atoms or combined) or options.files:
        _print_files(out, path)
    if options.atoms or combined:
        _print_macros(out, source, file, options, sep)
    return 0


def _print_files(out: TextIO, path: Sequence[Path]) -> None:
    seen: set[str] = set()
    for folder in path:
        if not folder.is_dir():
            continue
        for file in sorted(p for p in folder.iterdir() if p.is_file()):
            note = "" if file.name not in seen else " (hidden by the first of the name)"
            seen.add(file.name)
            print(f"{file}{note}", file=out)


def _print_macros(
    out: TextIO, source: MacroSource, file: Path, options: argparse.Namespace, sep: str
) -> None:
    combined = options.combined or options.expand
    for name, macro in sorted(source.macros(file).items()):
        is_atom = not references(macro.value)
        if not ((is_atom and options.atoms) or (not is_atom and combined)):
            continue
        if options.expand:
            words = expand_argv([f"MACRO:{name}%{file}"], source).words
            print(f"{name}{sep}{' '.join(words)}", file=out)
        elif options.defines:
            print(f"{name}{sep}{macro.value}", file=out)
        else:
            print(name, file=out)
