"""A group name to its member targets: ``#include`` and nested groups followed, cycles
refused with the cycle named.

The options of a member, left to right (the last value of a letter wins, as everywhere):
the ``CONTEXT`` options of the including files (outermost first), those of the member's own
file, the member's own ``(...)``; a member that names a group gives those to each of that
group's members after their own. ``ctys.argscan`` puts the options of ``-- '(opts)'`` before
and those of ``group'(opts)'`` on the command line after all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ctys.argscan import check_target_options, is_host_name
from ctys.errors import ConfError, UsageError
from ctys.groups.groupfile import GroupFile, Include, Member, parse_group_text
from ctys.groups.search import ENV_GROUPS_PATH, find_group, is_group_path
from ctys.invocation import Target
from ctys.pathutil import canonical_path
from ctys.trustedfile import read_trusted_text

__all__ = ["MAX_DEPTH", "GroupResolver"]

# The groups entered so far, outermost first: (name, file).
_Chain = tuple[tuple[str, Path], ...]

# The original stops at CTYS_MAXRECURSE (20) levels of #include; a cycle is refused at once.
MAX_DEPTH = 20


@dataclass
class GroupResolver:
    """Looks names up on ``path`` (``groups_path()``), reads each file once. With ``check``
    the option words of every member and ``CONTEXT`` are checked as the command line's are
    (a bad value is ``file:line: ...``); without, members are listed as written
    (``ctys-groups``)."""

    path: Sequence[Path]
    check: bool = False
    _files: dict[Path, GroupFile] = field(default_factory=dict)

    def __call__(self, name: str) -> tuple[Target, ...] | None:
        """The members of group ``name``; ``None`` when ``name`` is no group (a host).
        ``UsageError`` for a name that can only be a group and is not found."""
        file = find_group(name, self.path)
        if file is None:
            if is_group_path(name):
                raise UsageError(f"no group '{name}' in {self.where()}")
            return None
        return tuple(self._members(name, file, ()))

    def where(self) -> str:
        """The search path as a message names it."""
        return f"{ENV_GROUPS_PATH} ({':'.join(str(p) for p in self.path)})"

    def load(self, file: Path) -> GroupFile:
        """The parsed group file (cached); ``CtysError`` for an untrusted or bad file."""
        if file not in self._files:
            text = read_trusted_text(file, "group file")
            group = parse_group_text(text, file)
            if self.check:
                _check_options(group)
            self._files[file] = group
        return self._files[file]

    def _members(self, name: str, file: Path, chain: _Chain) -> list[Target]:
        # A cycle through two names of one file (``a`` and ``./a``) is a cycle too.
        file = canonical_path(file)
        names = " -> ".join([*(n for n, _ in chain), name])
        if any(f == file for _, f in chain):
            raise UsageError(f"group cycle: {names}")
        if len(chain) >= MAX_DEPTH:
            raise UsageError(f"groups nested deeper than {MAX_DEPTH}: {names}")
        group = self.load(file)
        inner = (*chain, (name, file))
        targets: list[Target] = []
        for entry in group.entries:
            if isinstance(entry, Include):
                sub = self._lookup(entry.name, group, entry.line)
                if sub is None:
                    raise ConfError(str(file), entry.line, f"#include: no group '{entry.name}'")
                found = self._members(entry.name, sub, inner)
                targets += [Target(t.host, t.user, group.context + t.options) for t in found]
            else:
                targets += self._member(entry, group, inner)
        return targets

    def _member(self, member: Member, group: GroupFile, chain: _Chain) -> list[Target]:
        word = member.target
        sub = self._lookup(word.name, group, member.line)
        if sub is not None:
            found = self._members(word.name, sub, chain)
            return [
                Target(t.host, t.user or word.user, group.context + t.options + word.options)
                for t in found
            ]
        if not is_host_name(word.name):
            raise ConfError(str(group.path), member.line, f"bad host '{word.name}'")
        return [Target(word.name, word.user, group.context + word.options)]

    def _lookup(self, name: str, group: GroupFile, line: int) -> Path | None:
        try:
            return find_group(name, self.path)
        except UsageError as exc:
            raise ConfError(str(group.path), line, str(exc)) from None


def _check_options(group: GroupFile) -> None:
    """Each member's and the CONTEXT option words, alone (they superpose, so a letter may
    repeat across them); ``ConfError`` naming file and line."""
    parts = [(group.context_line, "CONTEXT", group.context)] if group.context else []
    parts += [(m.line, m.target.name, m.target.options) for m in group.members]
    for line, name, options in parts:
        try:
            check_target_options(name, options)
        except UsageError as exc:
            raise ConfError(str(group.path), line, str(exc)) from None
