"""Find qemu arguments that make qemu run a host program or load host code (pure).

A conf file is data, but its ``ARGS`` go to qemu as they are, and some qemu options run
programs as whoever starts the VM. Booting someone else's conf with such an argument runs
*their* program as *you*. This module names those arguments; CREATE refuses them in a conf
the caller does not own (``ctys.plugins.qemu.boot.preflight``), LIST and ENUMERATE warn about them.

Detected (QEMU's ``-help`` and qemu-options.hx, 7.2 to 9.x):

- ``-netdev``/``-net``/``-nic`` (also their JSON form) with ``script=FILE`` or
  ``downscript=FILE`` (tap: runs FILE; ``no`` is safe), ``helper=PROG`` (tap/bridge: runs
  PROG), ``guestfwd=...-cmd:COMMAND`` (user: runs COMMAND through a shell), ``smb=DIR``
  (user: runs smbd, sharing DIR with the guest);
- ``-incoming exec:COMMAND`` (runs COMMAND through a shell);
- ``-plugin`` (loads a shared library into qemu);
- ``-readconfig FILE`` (more options, which ctys cannot see: any of these);
- ``-run-with``, ``-chroot``, ``-runas`` (change the user or root qemu runs with).

Not flagged: the *default* tap scripts (``/etc/qemu-ifup``) and bridge helper, which are
the host's own; ``-add-fd`` (passes descriptors ctys opened); ``-object`` (no QEMU object
type runs a program). Options are recognised at every position (a value that looks like
one of them is flagged too: conservative, never silent).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

_NETWORK_OPTIONS = frozenset({"-netdev", "-net", "-nic"})
# Options whose mere presence is enough, and what they do.
_ALWAYS = {
    "-plugin": "loads a shared library into qemu",
    "-readconfig": "reads qemu options ctys cannot check (they may run programs)",
    "-run-with": "changes the user or root directory qemu runs with",
    "-chroot": "changes the root directory qemu runs with",
    "-runas": "changes the user qemu runs as",
}
_RUNS = "makes qemu run a program as you"
_NO_SCRIPT = frozenset({"", "no"})


@dataclass(frozen=True)
class HostExec:
    """One argument that runs host code: the qemu option, the offending piece, and why."""

    option: str
    piece: str
    why: str

    def describe(self) -> str:
        """``'script=/x.sh' in -netdev makes qemu run a program as you``."""
        return f"'{self.piece}' in {self.option} {self.why}"


def find_host_exec(args: Sequence[str]) -> tuple[HostExec, ...]:
    """Every argument in ``args`` (qemu arguments, as from ARGS) that runs host code."""
    found: list[HostExec] = []
    for index, arg in enumerate(args):
        option = "-" + arg[2:] if arg.startswith("--") else arg
        value = args[index + 1] if index + 1 < len(args) else ""
        if option in _ALWAYS:
            piece = f"{option} {value}".strip()
            found.append(HostExec(option, piece, _ALWAYS[option]))
        elif option == "-incoming" and value.startswith("exec:"):
            found.append(HostExec(option, value, _RUNS))
        elif option in _NETWORK_OPTIONS:
            found.extend(HostExec(option, piece, _RUNS) for piece in _network_pieces(value))
    return tuple(found)


def _network_pieces(value: str) -> Iterator[str]:
    """The ``key=value`` pieces of a network option value that run a program."""
    for key, text in _network_settings(value):
        if (
            (key in ("script", "downscript") and text not in _NO_SCRIPT)
            or key in ("helper", "smb")
            or (key == "guestfwd" and "-cmd:" in text)
        ):
            yield f"{key}={text}"


def _network_settings(value: str) -> Iterator[tuple[str, str]]:
    """``(key, value)`` of a QemuOpts string (``tap,id=n,script=x``; ``,,`` is a comma) or
    of the JSON form (``{"type": "tap", "script": "x"}``)."""
    if value.lstrip().startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            return  # qemu refuses it too
        if isinstance(data, dict):
            yield from _json_settings(data)
        return
    for part in value.replace(",,", "\0").split(","):
        key, _, text = part.partition("=")
        yield key.strip(), text.replace("\0", ",")


def _json_settings(data: dict[str, object]) -> Iterator[tuple[str, str]]:
    for key, item in data.items():
        if isinstance(item, list):  # "guestfwd": [{"str": "tcp:...-cmd:..."}]
            for entry in item:
                text = entry.get("str") if isinstance(entry, dict) else entry
                yield key, str(text)
        else:
            yield key, str(item)
