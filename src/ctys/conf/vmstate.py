"""``VMSTATE`` and ENUMERATE's ``MATCHVSTAT`` filter, as the original has them.

A conf's ``#@#VMSTATE`` is one of ACTIVE, DISABLED, BACKUP, CUSTOM, TEMPLATE, TESTDUMMY,
EMPTY (or unset). ``MATCHVSTAT:<s>[%<s>...]`` lists the states ENUMERATE shows; besides the
states, PRESENT (any state set), ALL (anything, unset too), EMPTY (unset) and ENABLED (=
ACTIVE). Other words are refused unless ``CUSTOM`` comes first (``CUSTOM%MYSTATE``).
Without ``MATCHVSTAT`` ENUMERATE shows ACTIVE, DISABLED and unset (the original's default).
"""

from __future__ import annotations

from dataclasses import dataclass

from ctys.errors import UsageError

STATES = frozenset({"ACTIVE", "DISABLED", "BACKUP", "CUSTOM", "TEMPLATE", "TESTDUMMY", "EMPTY"})


@dataclass(frozen=True, slots=True)
class StateFilter:
    """Which ``VMSTATE`` values pass: ``states`` (upper case; "" = unset), or every set
    state (``present``), or everything (``everything``)."""

    states: frozenset[str] = frozenset({"ACTIVE", "DISABLED", ""})
    present: bool = False
    everything: bool = False

    def matches(self, vmstate: str) -> bool:
        """Whether a conf whose ``VMSTATE`` is ``vmstate`` passes the filter."""
        state = vmstate.strip().upper()
        if self.everything or (self.present and state):
            return True
        return ("" if state == "EMPTY" else state) in self.states


DEFAULT_FILTER = StateFilter()


def parse_matchvstat(args: tuple[str, ...]) -> StateFilter:
    """The filter of ``MATCHVSTAT:<s>%<s>...`` (its ``%``-separated arguments)."""
    if not args or not any(arg.strip() for arg in args):
        raise UsageError("MATCHVSTAT needs states (e.g. MATCHVSTAT:ACTIVE%TEMPLATE)")
    states: set[str] = set()
    custom = present = False
    for arg in args:
        word = arg.strip().upper()
        if word == "ALL":
            return StateFilter(everything=True)
        if word == "PRESENT":
            present = True
        elif word == "CUSTOM":
            custom = True
            states.add(word)
        elif word == "EMPTY":
            states.add("")
        elif word == "ENABLED":
            states.add("ACTIVE")
        elif word in STATES or (custom and word):
            states.add(word)
        else:
            raise UsageError(
                f"MATCHVSTAT: unknown state '{arg}' (ACTIVE, DISABLED, BACKUP, CUSTOM, TEMPLATE, "
                "TESTDUMMY, EMPTY, ENABLED, PRESENT, ALL; other words after CUSTOM)"
            )
    return StateFilter(frozenset(states), present=present)
