"""The suboption keys of every QEMU action, for ``QemuPlugin.suboptions`` (shell completion).

One line per key: a new suboption is one more line in its action's table. The parsers
(``requests.parse_create``, ``parse_cancel``, ``actions/list``, ``actions/enumerate``,
``actions/info``) stay the truth of what is accepted; ``tests/unit/test_completion_table``
checks that every key here is one they know. Imports only the core (completion stays fast).
"""

from __future__ import annotations

from collections.abc import Mapping

from ctys.address.model import ADDRESS_KEYS, BASEPATH_KEYS, PATH_ADDRESS_KEYS, AddressKind
from ctys.plugins.subopts import SuboptionSpec, ValueKind

Table = Mapping[str, SuboptionSpec]


def _flag(help_text: str) -> SuboptionSpec:
    return SuboptionSpec(help_text)


def _choice(help_text: str, *choices: str) -> SuboptionSpec:
    return SuboptionSpec(help_text, ValueKind.CHOICE, choices)


def _text(help_text: str) -> SuboptionSpec:
    return SuboptionSpec(help_text, ValueKind.TEXT)


def _path(help_text: str) -> SuboptionSpec:
    return SuboptionSpec(help_text, ValueKind.PATH)


def _address_keys() -> dict[str, SuboptionSpec]:
    """The machine address keys of the core (``ctys.address.model``) and BASEPATH."""
    table: dict[str, SuboptionSpec] = {}
    for key, kind in ADDRESS_KEYS.items():
        help_text = f"machine address: the VM's {kind.value}"
        if kind is AddressKind.LABEL:
            table[key] = SuboptionSpec(help_text, ValueKind.LABEL)
        elif key in PATH_ADDRESS_KEYS:
            table[key] = _path(help_text)
        else:
            table[key] = _text(help_text)
    for key in sorted(BASEPATH_KEYS):
        table[key] = _path("folders to scan for VM confs (DIR[%DIR...])")
    return table


_FORMATS: dict[str, SuboptionSpec] = {
    "TERSE": _flag("';'-separated lines"),
    "MACHINE": _flag("the original's machine record"),
    "JSON": _flag("JSON rows"),
    "TITLE": _flag("a header line in the terse formats"),
}

_CONSOLES = ("CLI", "CLI0", "SDL", "VNC", "XTERM", "GTERM", "EMACS", "EMACSA", "EMACSAM")
_BOOTMODES = ("CD", "DVD", "FDD", "HDD", "VHDD", "USB", "PXE")

CREATE: Table = {
    **_address_keys(),
    "BOOTMODE": _choice("boot medium: MODE[%PATH]", *_BOOTMODES),
    "KERNEL": _path("direct kernel boot: IMG[%INITRD[%APPEND]]"),
    "CONSOLE": _choice("the console to open", *_CONSOLES),
    "ARGSADD": _text("extra qemu arguments: ARG[%ARG...]"),
    "CONNECT": _flag("attach to the running VM's console, never boot"),
    "REUSE": _flag("attach when it runs, else boot"),
    "RESUME": _flag("let a paused VM run again"),
    "WAIT": _text("return once the console printed TEXT[%SECONDS]"),
    "INSTMODE": _text("installer boot: SRCMODE%SRCPATH%TGTMODE%TGTPATH%INIT"),
    "VNCBIND": _text("VNC on a TCP address (with a password)"),
    "VNCPASS": _choice("the VNC password: ENV%VARIABLE or FILE%PATH", "ENV", "FILE"),
}

CANCEL: Table = {
    **_address_keys(),
    "ALL": _flag("every managed VM"),
    "POWEROFF": _flag("ACPI power-off, then quit, SIGTERM, kill (default)"),
    "REBOOT": _flag("reboot the guest"),
    "RESET": _flag("hard reset"),
    "PAUSE": _flag("stop the vCPUs"),
    "SUSPEND": _flag("suspend the VM"),
    "FORCE": _flag("SIGTERM, then SIGKILL"),
    "TIMEOUT": _text("seconds to wait for each step"),
}

LIST: Table = {**_FORMATS}

ENUMERATE: Table = {
    **{key: _path("folders to scan (DIR[%DIR...])") for key in sorted(BASEPATH_KEYS)},
    "ALL": _flag("every field"),
    "MATCHVSTAT": _choice(
        "the VMSTATEs shown", "ACTIVE", "DISABLED", "EMPTY", "PRESENT", "ALL", "CUSTOM"
    ),
    **_FORMATS,
    "TITLEIDX": _flag("a header line with field numbers"),
}

INFO: Table = {
    "REFRESH": _flag("probe the qemu binaries again"),
    "LOAD": _flag("one line load1;ncpu;running_vms"),
}

BY_ACTION: Mapping[str, Table] = {
    "CREATE": CREATE,
    "CANCEL": CANCEL,
    "LIST": LIST,
    "ENUMERATE": ENUMERATE,
    "INFO": INFO,
}
