"""ctys' generic options for completion: which there are comes from ``ctys.argscan`` (the
letters it accepts with a value, and its flags), what each means and the values worth
offering from the small tables here. A letter argscan gains is completed at once (with no
help text until a line is added here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from ctys import argscan


class OptionValue(Enum):
    """What the word after an option is."""

    PLUGINS = "plugins"  # a plugin name (-t), a comma list or ALL (-T)
    ACTION = "action"  # ACTION[=SUBOPTS]
    CHOICE = "choice"
    PATH = "path"
    TEXT = "text"


@dataclass(frozen=True)
class OptionSpec:
    """One option: its help line, its value and the values to offer."""

    help: str
    value: OptionValue | None = None  # None: a flag
    choices: tuple[str, ...] = ()


def _choice(help_text: str, *choices: str) -> OptionSpec:
    return OptionSpec(help_text, OptionValue.CHOICE, choices)


_KNOWN: Mapping[str, OptionSpec] = {
    "-t": OptionSpec("session type (plugin)", OptionValue.PLUGINS),
    "-T": OptionSpec("plugins to load (TYPE,... or ALL)", OptionValue.PLUGINS),
    "-a": OptionSpec("action and its suboptions", OptionValue.ACTION),
    "-c": _choice("use of the inventory", "ON", "OFF", "ON,LOCAL", "ON,REMOTE", "ON,BOTH"),
    "-C": _choice("inventory control", "on", "off", "rebuild", "clear", "list"),
    "-p": OptionSpec("the original's DB directory", OptionValue.PATH),
    "-g": OptionSpec("console window geometry WxH[+X+Y]", OptionValue.TEXT),
    "-r": OptionSpec("resolution", OptionValue.TEXT),
    "-b": _choice("background (1) or foreground (0)", "0", "1", "on", "off"),
    "-z": _choice("pseudo-terminal for remote targets", "pty", "nopty"),
    "-S": _choice("signals to ignore", "INT", "TSTP", "QUIT", "INT,TSTP,QUIT"),
    "-d": _choice("debug level", "0", "1", "2", "3"),
    "-l": OptionSpec("remote user", OptionValue.TEXT),
    "-o": _choice("output format and fields", "table", "terse", "json"),
    "-h": OptionSpec("short help"),
    "-H": OptionSpec("long help"),
    "-V": OptionSpec("print the version"),
    "--version": OptionSpec("print the version"),
    argscan.INVENTORY_OPTION: OptionSpec("the inventory file", OptionValue.PATH),
}


def _argscan_letters(name: str) -> frozenset[str]:
    # The flag table (FLAG_OPTIONS) is argscan's from issue 13 on; read it when it is there.
    value: frozenset[object] = getattr(argscan, name, frozenset())
    return frozenset(str(letter) for letter in value)


def option_table() -> dict[str, OptionSpec]:
    """Every option ctys accepts, by its spelling (``-t``, ``--inventory``)."""
    table: dict[str, OptionSpec] = {}
    for letter in sorted(_argscan_letters("_VALUE_OPTIONS")):
        table[f"-{letter}"] = _KNOWN.get(f"-{letter}", OptionSpec("", OptionValue.TEXT))
    for letter in sorted(_argscan_letters("FLAG_OPTIONS")):
        table[f"-{letter}"] = _KNOWN.get(f"-{letter}", OptionSpec(""))
    for name, spec in _KNOWN.items():
        if spec.value is None or name.startswith("--"):
            table.setdefault(name, spec)
    return table
