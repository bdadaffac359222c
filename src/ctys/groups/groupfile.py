"""One group file, parsed (never sourced): its members, includes and context options.

The original's format, line by line:

- blank lines and lines starting with ``#`` are ignored, except ``#include <group>[ ...]``,
  which takes the members of other groups in its place (names separated by blanks or
  commas);
- any other line lists targets separated by blanks or commas:
  ``[user@]host['(' options ')']`` — a member may itself name a group;
- ``CONTEXT'(' options ')'`` gives options to every member of the file (and of the groups
  it includes); a member's own options come after them, so its values win.

Quotes around the parentheses (``host'(-d 1)'``) are dropped as the original does; inside
them the options are split shell-style. A ``#`` after a blank starts a comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ctys.argscan import TargetWord, split_target, split_words
from ctys.errors import ConfError, UsageError

__all__ = ["GroupFile", "Include", "Member", "parse_group_text"]

_INCLUDE = "#include"
_CONTEXT = "CONTEXT"


@dataclass(frozen=True)
class Member:
    """A target line's word: a host (or a group) with its user and options, unchecked."""

    target: TargetWord
    line: int


@dataclass(frozen=True)
class Include:
    """``#include <name>``: the members of group ``name`` in this place."""

    name: str
    line: int


@dataclass(frozen=True)
class GroupFile:
    """A parsed group file: the entries in file order, the ``CONTEXT`` options."""

    path: Path
    entries: tuple[Member | Include, ...]
    context: tuple[str, ...] = ()
    context_line: int = 0  # the first CONTEXT line, for messages

    @property
    def members(self) -> tuple[Member, ...]:
        return tuple(e for e in self.entries if isinstance(e, Member))

    @property
    def includes(self) -> tuple[Include, ...]:
        return tuple(e for e in self.entries if isinstance(e, Include))


def parse_group_text(text: str, path: Path) -> GroupFile:
    """Parse the text of group file ``path``; ``ConfError`` naming file and line."""
    entries: list[Member | Include] = []
    context: list[str] = []
    context_line = 0
    for number, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.strip()
        try:
            if line.startswith(_INCLUDE) and (line == _INCLUDE or line[8].isspace()):
                entries.extend(_includes(line[len(_INCLUDE) :], number))
            elif line and not line.startswith("#"):
                for word in _words(line):
                    split = split_target(word)
                    if split.name == _CONTEXT and split.user is None:
                        context.extend(split.options)
                        context_line = context_line or number
                    else:
                        entries.append(Member(split, number))
        except UsageError as exc:
            raise ConfError(str(path), number, str(exc)) from None
    return GroupFile(path, tuple(entries), tuple(context), context_line)


def _includes(rest: str, number: int) -> list[Include]:
    names = _words(rest)
    if not names:
        raise UsageError("#include names no group")
    return [Include(name, number) for name in names]


def _words(line: str) -> list[str]:
    """The words of a line up to a ``#`` comment."""
    words: list[str] = []
    for word in split_words(line, commas=True):
        if word.startswith("#"):
            break
        words.append(word)
    return words
