"""Macros: ``MACRO:<name>[%<file>][%ECHO|%EVAL][%OPTIONAL]`` anywhere on a command line,
replaced by the definition of ``name`` from a macro file (the original's ctys-macros(1)).

A macro file is data, parsed and never sourced: ``name=value`` lines (blanks around ``=``
allowed, a value may hold further ``=``), a trailing ``\\`` continues a line, blank lines and
lines starting with ``#`` are ignored; a name defined twice is an error. A value may use
other macros (``macro:`` in any case, also ``{macro:NAME}``); they are expanded in turn,
from the same file unless they name their own, and a cycle is refused naming it.

Files: ``%<file>`` is an absolute path or a file name searched on ``CTYS_MACRO_PATH``
(``:``-separated folders; unset: ``~/.ctys/macros``), the first found wins; without it the
file ``default`` on that path. ``%ECHO`` (the original's default task) puts the text in
place and, here, also prints it (``ECHO`` lines for the caller to show); ``%EVAL`` made the
original run the text as shell code and use its output: ctys runs nothing, it puts the text
in place like ECHO and scans it again, so EVAL only differs in printing nothing.
``%OPTIONAL`` makes an unknown macro expand to nothing instead of an error.

A word holding a macro is split again after the replacement (a macro may give several
options and targets) with ``ctys.argscan.split_words``: at blanks outside quotes and
parentheses. Words without a macro are left exactly as they are. Core module.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ctys.argscan import split_words
from ctys.errors import ConfError, UsageError
from ctys.trustedfile import read_trusted_text

__all__ = [
    "DEFAULT_FILE",
    "ENV_MACRO_PATH",
    "MAX_DEPTH",
    "Expansion",
    "Macro",
    "MacroSource",
    "expand_argv",
    "has_macro",
    "macro_path",
    "parse_macro_text",
    "references",
]

ENV_MACRO_PATH = "CTYS_MACRO_PATH"
DEFAULT_FILE = "default"
# The original's recursion bound (CTYS_MAXRECURSE); cycles are refused before it is hit.
MAX_DEPTH = 20

# ``{macro:NAME%args}`` or ``macro:NAME%args``: the name ends at , % } or a blank, the
# arguments at , } a blank or ``%%`` (the original's field separator in TAB_GEN values).
_ARGS = r"((?:%(?!macro:)[^,%}\s]+)*)"
_TOKEN = re.compile(r"\{macro:([^,%}\s]*)" + _ARGS + r"\}|macro:([^,%}\s]*)" + _ARGS, re.IGNORECASE)
_NAME = re.compile(r"[^\s=#]+")
_TASKS = frozenset({"ECHO", "EVAL", "OPTIONAL"})


@dataclass(frozen=True)
class Macro:
    """One definition: its name, its value as written, where it is."""

    name: str
    value: str
    path: Path
    line: int


def parse_macro_text(text: str, path: Path) -> dict[str, Macro]:
    """The definitions of macro file ``path``; ``ConfError`` naming file and line for a
    line that is no ``name=value`` or a name given twice."""
    macros: dict[str, Macro] = {}
    pending = ""
    start = 0
    for number, raw_line in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
            if not raw_line.strip() or raw_line.lstrip().startswith("#"):
                continue
        line = pending + raw_line
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        pending = ""
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not _NAME.fullmatch(name):
            raise ConfError(str(path), start, f"not a macro definition (name=value): {line!r}")
        if name in macros:
            first = macros[name].line
            raise ConfError(str(path), start, f"macro '{name}' defined twice (also line {first})")
        # The original squeezes runs of blanks to one: values are option words.
        macros[name] = Macro(name, " ".join(value.split()), path, start)
    if pending:
        raise ConfError(str(path), start, "the last line ends with '\\'")
    return macros


def macro_path(env: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The folders searched for macro files, in order."""
    environ = os.environ if env is None else env
    home = environ.get("HOME") or str(Path.home())
    entries = [e for e in environ.get(ENV_MACRO_PATH, "").split(":") if e]
    if not entries:
        return (Path(home) / ".ctys" / "macros",)
    # "~" as the shell would have expanded it, with the HOME given.
    return tuple(dict.fromkeys(Path(home + e[1:] if e[:2] in ("~", "~/") else e) for e in entries))


def has_macro(text: str) -> bool:
    """Whether ``text`` holds a macro reference (``MACRO:`` in any case)."""
    return "macro:" in text.lower()


def references(value: str) -> list[str]:
    """The names of the macros ``value`` uses, in order."""
    return [m.group(1) if m.group(1) is not None else m.group(3) for m in _TOKEN.finditer(value)]


@dataclass
class MacroSource:
    """The macro files of a search path, each read (and checked) once."""

    path: Sequence[Path]
    _files: dict[Path, dict[str, Macro]] = field(default_factory=dict)

    def find(self, name: str) -> Path:
        """The file ``name`` names: an absolute path, else the first on the search path;
        ``CtysError`` when there is none."""
        if name.startswith("/"):
            if Path(name).is_file():
                return Path(name)
        elif "/" not in name or ".." not in name.split("/"):
            for folder in self.path:
                if (folder / name).is_file():
                    return folder / name
        where = ":".join(str(p) for p in self.path)
        raise UsageError(f"no macro file '{name}' in {ENV_MACRO_PATH} ({where})")

    def macros(self, file: Path) -> dict[str, Macro]:
        """The definitions of ``file`` (cached)."""
        if file not in self._files:
            self._files[file] = parse_macro_text(read_trusted_text(file, "macro file"), file)
        return self._files[file]


@dataclass(frozen=True)
class Expansion:
    """What a command line became: its words, and the ``ECHO`` lines to show."""

    words: tuple[str, ...]
    echoes: tuple[str, ...] = ()


def expand_argv(argv: Sequence[str], source: MacroSource) -> Expansion:
    """``argv`` with every macro replaced; a word that held one split again. No file is
    read when no word holds ``MACRO:``. ``UsageError``/``ConfError`` naming the macro."""
    words: list[str] = []
    echoes: list[str] = []
    for word in argv:
        if not has_macro(word):
            words.append(word)
            continue
        words += split_words(_Expander(source, echoes).text(word, None, ()))
    return Expansion(tuple(words), tuple(echoes))


@dataclass
class _Expander:
    source: MacroSource
    echoes: list[str]

    def text(self, text: str, file: Path | None, chain: tuple[str, ...]) -> str:
        """``text`` with its macros replaced, those without a file of their own from
        ``file`` (None: the default file)."""
        out: list[str] = []
        end = 0
        for match in _TOKEN.finditer(text):
            braced = match.group(1) is not None
            name = match.group(1) if braced else match.group(3)
            args = match.group(2) if braced else match.group(4)
            out += [text[end : match.start()], self._one(match.group(0), name, args, file, chain)]
            end = match.end()
        out.append(text[end:])
        return "".join(out)

    def _one(
        self, token: str, name: str, args: str, file: Path | None, chain: tuple[str, ...]
    ) -> str:
        if not name:
            raise UsageError(f"'{token}' names no macro")
        tasks = {a.upper() for a in args.split("%")[1:] if a.upper() in _TASKS}
        files = [a for a in args.split("%")[1:] if a.upper() not in _TASKS]
        if len(files) > 1:
            raise UsageError(f"'{token}' names two macro files")
        chosen = self.source.find(files[0]) if files else file or self.source.find(DEFAULT_FILE)
        label = name if chosen.name == DEFAULT_FILE else f"{name}%{chosen.name}"
        if label in chain:
            raise UsageError(f"macro cycle: {' -> '.join((*chain, label))}")
        if len(chain) >= MAX_DEPTH:
            raise UsageError(f"macros nested deeper than {MAX_DEPTH}: {' -> '.join(chain)}")
        macro = self.source.macros(chosen).get(name)
        if macro is None:
            if "OPTIONAL" in tasks:
                return ""
            raise UsageError(f"unknown macro '{name}' in {chosen} (names are case-sensitive)")
        value = self.text(macro.value, chosen, (*chain, label))
        if "ECHO" in tasks:
            self.echoes.append(f"{token} = {value}")
        return value
