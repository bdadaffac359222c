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

_ORIGINAL_FORMS: dict[str, SuboptionSpec] = {
    "TITLEIDX": _flag("a header line with field numbers"),
    "TITLEIDXASC": _flag("a header line with field numbers and column letters"),
    "SORT": _text("sort rows: ALL|EACH|UNIQUE|<field number>"),
    "TAB_GEN": _text("the original's table: <field>[_<title>[_<width>]]%..."),
    "MAXKEY": _flag("the original's widest field set"),
    "NONE": _flag("no fields (with TITLE: the header only)"),
}

_CONSOLES = (
    "VNC", "NONE", "CLI", "CLI0", "SDL", "XTERM", "GTERM", "EMACS", "EMACSM", "EMACSA", "EMACSAM",
)  # fmt: skip
_BOOTMODES = ("CD", "DVD", "FDD", "HDD", "VHDD", "USB", "KERNEL", "PXE")
_PROBE = ("ON", "OFF")

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
    "RECONNECT": _flag("close the VM's viewers/console attachers, then connect"),
    "FORCE": _flag("with CONNECT/REUSE/RECONNECT: take the serial console over"),
    "PING": _choice("wait until the guest answers ping: ON|OFF|<count>%<sleep>", *_PROBE),
    "SSHPING": _choice("wait until the guest's sshd lets USER in: ON|OFF|<count>%<sleep>", *_PROBE),
    "WAITS": _text("seconds to wait after the server start"),
    "WAITC": _text("seconds to wait before the client opens"),
    "USER": _text("the guest login for SSHPING"),
    "CALLOPTS": _text("options for the viewer/terminal: OPT[%OPT...]"),
    "C": _text("options for the viewer/terminal (CALLOPTS)"),
    "XOPTS": _text("X toolkit options for the viewer/terminal: OPT[%OPT...]"),
    "X": _text("X toolkit options (XOPTS)"),
    "STACKCHECK": _choice(
        "check STACKREQ/HWREQ: OFF|[NO]HWCAP%[NO]STACKCAP%[NO]CONTEXT",
        *("OFF", "HWCAP", "NOHWCAP", "STACKCAP", "NOSTACKCAP", "CONTEXT", "NOCONTEXT"),
    ),
    "WRAPPER": _flag("run the VM's wrapper script (NAME.sh) instead of building the argv"),
}

CANCEL: Table = {
    **_address_keys(),
    "ALL": _flag("every managed VM"),
    "POWEROFF": _flag("ACPI power-off, then quit, SIGTERM, kill (default)"),
    "REBOOT": _flag("reboot the guest"),
    "RESET": _flag("hard reset"),
    "PAUSE": _flag("stop the vCPUs"),
    "S3": _flag("stop the vCPUs (PAUSE)"),
    "SUSPEND": _flag("save the VM's state and end qemu (CREATE=...,RESUME restores it)"),
    "S4": _flag("save the VM's state and end qemu (SUSPEND)"),
    "S5": _text("power off (POWEROFF[:SECONDS])"),
    "INIT": _text("telinit <n> in the guest (agent or ssh)"),
    "FORCE": _flag("no propagation to the VMs inside; kill after the timeout"),
    "STACK": _flag("the VMs inside first (default)"),
    "SELF": _text("then this host itself: SELF:HOSTNAME confirms"),
    "CLIENT": _flag("close the viewers/console attachers only"),
    "SERVER": _flag("stop the VM (default)"),
    "BOTH": _flag("close the clients, then stop the VM"),
    "USER": _text("the guest account for INIT over ssh"),
    "MACHINE": _flag("the original's block output"),
    "TIMEOUT": _text("seconds to wait for each step"),
}

_LIST_FIELDS = (
    "PM", "TYPE", "LABEL", "ID", "UUID", "MAC", "TCP", "DISPLAY", "CPORT", "SPORT", "PID", "UID",
    "GID", "CSTYPE", "JOBID", "IFNAME", "RESERVED", "CONTEXTSTRG", "EXECPATH", "HYPERRELRUN",
    "ACCELERATOR", "ARCH",
)  # fmt: skip

LIST: Table = {
    **_FORMATS,
    **_ORIGINAL_FORMS,
    **{key: _flag("a field of the original's 22-field record") for key in _LIST_FIELDS},
    "ALL": _flag("all 22 fields"),
    "TAB_TCP": _flag("the original's default table"),
    "CLIENT": _flag("client sessions (QEMU has none)"),
    "SERVER": _flag("the VMs (default)"),
    "BOTH": _flag("clients and VMs"),
    "TUNNEL": _flag("tunnel sessions (QEMU has none)"),
    "PKG": _text("only sessions of this type"),
    "ALLVMS": _flag("the known VMs that do not run too (shut off)"),
}

ENUMERATE: Table = {
    **{key: _path("folders to scan (DIR[%DIR...])") for key in sorted(BASEPATH_KEYS)},
    "ALL": _flag("every field"),
    "MATCHVSTAT": _choice(
        "the VMSTATEs shown", "ACTIVE", "DISABLED", "EMPTY", "PRESENT", "ALL", "CUSTOM"
    ),
    **_FORMATS,
    **_ORIGINAL_FORMS,
}

INFO: Table = {
    **_address_keys(),
    "REFRESH": _flag("probe the qemu binaries again"),
    "LOAD": _flag("one line load1;ncpu;running_vms"),
    "MACHINE": _flag("the original's one-line record"),
    "JSON": _flag("INFO=<address>: the VM's details as JSON"),
    "LOG": _text("INFO=<address>: only its console and qemu logs, last LINES lines"),
}

SHOW: Table = {**_FORMATS}

SNAPSHOT: Table = {
    **_address_keys(),
    "CREATE": _text("take snapshot NAME"),
    "LIST": _flag("the VM's snapshots (default)"),
    "APPLY": _text("go back to snapshot NAME"),
    "DELETE": _text("delete snapshot NAME"),
    "FORCE": _flag("change a suspended VM's disks (DELETE:S4 drops its state)"),
    **_FORMATS,
}

WATCH: Table = {
    **_address_keys(),
    "ALL": _flag("every VM of the host (default)"),
    "JSON": _flag("one JSON object per event"),
}

BY_ACTION: Mapping[str, Table] = {
    "CREATE": CREATE,
    "CANCEL": CANCEL,
    "LIST": LIST,
    "ENUMERATE": ENUMERATE,
    "INFO": INFO,
    "SHOW": SHOW,
    "SNAPSHOT": SNAPSHOT,
    "WATCH": WATCH,
}
