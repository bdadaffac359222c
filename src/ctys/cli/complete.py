"""``ctys-complete``: the shell completion of ctys, called by the scripts in
``ctys/completion/shells`` (bash, zsh, fish) at each Tab; ``--script SHELL`` prints one.

    ctys-complete --shell bash --point N [--breaks CHARS] -- "$COMP_LINE"
    ctys-complete --shell zsh|fish -- WORD... CURRENT

Fast by design: no plugin is imported unless its catalog cache is stale
(``ctys.completion.catalog``). Never fails loudly: a broken source gives no candidates and
exit status 0, errors go to stderr only with ``CTYS_COMPLETE_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ctys.completion.engine import complete
from ctys.completion.live import LiveSources
from ctys.completion.shellout import DEFAULT_BREAKS, Shell, render, split_line

_SCRIPTS = {Shell.BASH: "ctys.bash", Shell.ZSH: "_ctys", Shell.FISH: "ctys.fish"}
_USAGE = (
    "usage: ctys-complete --shell bash|zsh|fish [--point N] [--breaks CHARS] -- WORD...\n"
    "       ctys-complete --script bash|zsh|fish\n"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the candidates (or a shell script); the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _run(args)
    except Exception as exc:  # a Tab must never print a traceback into the command line
        if os.environ.get("CTYS_COMPLETE_DEBUG"):
            raise
        if isinstance(exc, _Usage):
            sys.stderr.write(_USAGE)
            return 2
        return 0


class _Usage(Exception):
    pass


def _run(args: list[str]) -> int:
    opts, words = _options(args)
    if "--script" in opts:
        from importlib import resources

        name = _SCRIPTS[_shell(opts["--script"])]
        sys.stdout.write(resources.files("ctys.completion").joinpath("shells", name).read_text())
        return 0
    shell = _shell(opts.get("--shell", ""))
    if shell is Shell.BASH:
        if len(words) != 1:
            raise _Usage
        line = words[0]
        point = int(opts.get("--point", len(line)))
        split, current = split_line(line[:point])
        before = split[1:]  # without the program's name
    else:
        if not words:
            raise _Usage
        before, current = list(words[:-1]), words[-1]  # the words after the program's name
    found = complete(before, current, LiveSources.for_words(before))
    sys.stdout.write(render(shell, current, found, opts.get("--breaks", DEFAULT_BREAKS)))
    return 0


def _options(args: list[str]) -> tuple[dict[str, str], list[str]]:
    opts: dict[str, str] = {}
    index = 0
    while index < len(args) and args[index] != "--":
        if args[index] not in ("--shell", "--point", "--breaks", "--script"):
            raise _Usage
        if index + 1 >= len(args):
            raise _Usage
        opts[args[index]] = args[index + 1]
        index += 2
    return opts, args[index + 1 :]


def _shell(name: str) -> Shell:
    try:
        return Shell(name)
    except ValueError:
        raise _Usage from None
