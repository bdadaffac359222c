"""The completion of one word of a ctys command line: pure, given where names come from.

``complete(words, current, sources)``: ``words`` are the words before the one being
completed (without the program name), ``current`` what is typed of it. The answer is full
words that start with ``current`` (the shell scripts strip what their shell split off).

- after an option taking a value: its values (plugins, actions, choices, paths);
- a word starting with ``-``: the options (``ctys.argscan``'s);
- after ``-a`` (or ``-aACTION``): ``ACTION`` / ``ACTION=``, then the action's suboption
  keys (``KEY`` / ``KEY:``) from the plugin's table, then a key's values (choices, VM
  labels from the inventory, paths);
- any other word: a target: hosts (ssh config, known_hosts), ``user@host``, host groups.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ctys.completion.catalog import Catalogs, action_names
from ctys.completion.options import OptionSpec, OptionValue, option_table
from ctys.plugins.subopts import SuboptionSpec, ValueKind

ALL_PLUGINS = "ALL"
# A candidate ending in one of these is not a whole word yet: no space after it.
CONTINUES = frozenset("=:,%/@")


@dataclass(frozen=True)
class Candidate:
    """One completion: the whole word and a one-line help (may be empty)."""

    value: str
    help: str = ""

    @property
    def continues(self) -> bool:
        return self.value[-1:] in CONTINUES


class Sources(Protocol):
    """Where the names come from (``ctys.completion.live`` reads the real ones)."""

    def plugin_names(self) -> Sequence[str]: ...

    def catalogs(self, types: Sequence[str]) -> Catalogs: ...

    def labels(self) -> Sequence[str]: ...

    def hosts(self) -> Sequence[str]: ...

    def groups(self) -> Sequence[str]: ...

    def paths(self, prefix: str) -> Sequence[str]: ...


def complete(words: Sequence[str], current: str, sources: Sources) -> list[Candidate]:
    """The candidates for ``current`` after ``words`` (see the module's docstring)."""
    table = option_table()
    previous = words[-1] if words else ""
    if previous != "--" and "--" not in words:
        spec = table.get(previous)
        if spec is not None and spec.value is not None:
            return _option_value(previous, spec, "", current, words, sources)
        if current.startswith("-"):
            return _options_or_attached(current, table, words, sources)
    return _target(current, sources)


def _options_or_attached(
    current: str, table: Mapping[str, OptionSpec], words: Sequence[str], sources: Sources
) -> list[Candidate]:
    # ``-aCREATE=...``: a value attached to its letter, as argscan accepts it.
    head = current[:2]
    spec = table.get(head)
    if len(current) > 2 and not current.startswith("--") and spec and spec.value is not None:
        return _option_value(head, spec, head, current[2:], words, sources)
    return [Candidate(name, s.help) for name, s in table.items() if name.startswith(current)]


def _option_value(
    option: str, spec: OptionSpec, lead: str, text: str, words: Sequence[str], sources: Sources
) -> list[Candidate]:
    if spec.value is OptionValue.PLUGINS:
        names = [*sources.plugin_names(), *([ALL_PLUGINS] if option == "-T" else [])]
        found = [Candidate(v, "session type") for v in _matching(names, text, fold=True)]
    elif spec.value is OptionValue.ACTION:
        found = _action(text, sources.catalogs(_types(words)), sources)
    elif spec.value is OptionValue.CHOICE:
        found = [Candidate(v) for v in _matching(spec.choices, text, fold=True)]
    elif spec.value is OptionValue.PATH:
        found = _prefixed(sources.paths(text), text, "")
    else:
        found = []
    return [Candidate(lead + c.value, c.help) for c in found]


def _types(words: Sequence[str]) -> list[str]:
    """The plugins named by ``-t``/``-T`` among ``words`` (empty: every built-in one)."""
    for index, word in enumerate(words):
        value = None
        if word in ("-t", "-T") and index + 1 < len(words):
            value = words[index + 1]
        elif word.startswith(("-t", "-T")) and len(word) > 2:
            value = word[2:]
        if value is not None and value.upper() != ALL_PLUGINS:
            return [v.upper() for v in value.split(",") if v]
    return []


def _action(text: str, catalogs: Catalogs, sources: Sources) -> list[Candidate]:
    name, sep, subopts = text.partition("=")
    if not sep:
        actions = action_names(catalogs.values())
        tables = _tables(catalogs)
        words = [a + ("=" if tables.get(a) else "") for a in actions]
        helps = {w: actions[w.rstrip("=")] for w in words}
        return [Candidate(w, helps[w.upper()]) for w in _matching(words, name, fold=True)]
    table = _tables(catalogs).get(name.upper(), {})
    lead, _, last = subopts.rpartition(",")
    lead = f"{name}={lead}," if lead else f"{name}="
    return [Candidate(lead + c.value, c.help) for c in _suboption(last, table, sources)]


def _tables(catalogs: Catalogs) -> dict[str, dict[str, SuboptionSpec]]:
    """Each action's suboption keys over every plugin (the first plugin's help wins)."""
    merged: dict[str, dict[str, SuboptionSpec]] = {}
    for cat in catalogs.values():
        for action, table in cat.suboptions.items():
            into = merged.setdefault(action, {})
            for key, spec in table.items():
                into.setdefault(key, spec)
    return merged


def _suboption(text: str, table: Mapping[str, SuboptionSpec], sources: Sources) -> list[Candidate]:
    key, sep, arg = text.partition(":")
    if not sep:
        words = [k + ("" if s.kind is ValueKind.NONE else ":") for k, s in table.items()]
        helps = {w: table[w.rstrip(":")].help for w in words}
        return [Candidate(w, helps[w.upper()]) for w in _matching(words, key, fold=True)]
    spec = table.get(key.upper())
    if spec is None:
        return []
    done, _, last = arg.rpartition("%")
    lead = f"{key}:{done}%" if done else f"{key}:"
    if spec.kind is ValueKind.CHOICE and not done:
        return [Candidate(lead + v, spec.help) for v in _matching(spec.choices, last, fold=True)]
    if spec.kind is ValueKind.LABEL:
        values = list(sources.labels())
    elif spec.kind is ValueKind.PATH:
        values = list(sources.paths(last))
    else:
        values = []
    return [Candidate(lead + v, spec.help) for v in _matching(values, last)]


def _target(text: str, sources: Sources) -> list[Candidate]:
    user, at, host = text.rpartition("@")
    if at:
        return [Candidate(f"{user}@{h}", "host") for h in _matching(sources.hosts(), host)]
    found = _prefixed(sources.hosts(), text, "host")
    found += _prefixed(sources.groups(), text, "host group")
    return found


def _prefixed(values: Sequence[str], text: str, help_text: str) -> list[Candidate]:
    return [Candidate(v, help_text) for v in _matching(values, text)]


def _matching(values: Sequence[str], typed: str, *, fold: bool = False) -> list[str]:
    """The values starting with ``typed``. With ``fold`` (keys and actions, which ctys takes
    in any case) case is ignored and a value typed in lower case is offered in lower case
    (``l`` -> ``l:``): the shells filter candidates case-sensitively."""
    found: list[str] = []
    for value in dict.fromkeys(values):
        if value.startswith(typed):
            found.append(value)
        elif fold and value.lower().startswith(typed.lower()):
            found.append(value.lower() if typed.islower() else typed + value[len(typed) :])
    return found
