"""Who may boot a conf that makes CREATE run a program of its choice.

That is a conf whose ARGS make qemu run host programs (``ctys.plugins.qemu.boot.hostexec``),
or whose ``QEMUBIN`` is a path (the program CREATE starts instead of qemu). Only the conf file's
owner may boot it: their file, their program, their account. For anyone else CREATE
refuses with one line naming the file, the line and the argument; LIST and ENUMERATE print
a warning line for every such conf they show.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ctys.conf.lenient import read_vm_conf
from ctys.errors import ConfError, CtysError
from ctys.plugins.qemu.boot.hostexec import find_host_exec
from ctys.plugins.qemu.vmconfig import VmConfig


@dataclass(frozen=True)
class _Reason:
    """Why booting a conf runs a program of its choice: the conf key and what it says."""

    key: str
    text: str


def _reasons(vm: VmConfig) -> list[_Reason]:
    reasons = [_Reason("ARGS", f"ARGS {item.describe()}") for item in find_host_exec(vm.extra_args)]
    if vm.qemu_binary and "/" in vm.qemu_binary:
        # A bare name is looked up in the caller's own PATH; a path is the conf's choice.
        text = f"QEMUBIN '{vm.qemu_binary}' is the program CREATE would run as you"
        reasons.append(_Reason("QEMUBIN", text))
    return reasons


def check_may_boot(vm: VmConfig) -> None:
    """``ConfError`` when booting ``vm`` runs a program of its conf's choice and the conf
    file is not the caller's."""
    reasons = _reasons(vm)
    if not reasons:
        return
    owner = _owner(vm.conf_path)
    if owner == caller_uid():
        return
    raise ConfError(
        str(vm.conf_path),
        _line_of(vm, reasons[0].key),
        f"not booted: {reasons[0].text}, and this conf file belongs to "
        f"{_user_name(owner)}; only its owner may boot it",
    )


def host_exec_warnings(vms: Iterable[VmConfig]) -> Iterator[str]:
    """One ``warning:`` line for each of ``vms`` that runs a program of its conf's choice."""
    for vm in vms:
        note = host_exec_note(vm)
        if note:
            yield host_exec_warning(vm.conf_path, note)


def host_exec_note(vm: VmConfig) -> str:
    """What in ``vm``'s conf runs a program of its choice ("" for nothing): all the conf
    says of it, so an incremental ENUMERATE keeps it for a conf it does not read again."""
    return "; ".join(reason.text for reason in _reasons(vm))


def host_exec_warning(conf_path: Path, note: str) -> str:
    """The ``warning:`` line for the conf at ``conf_path`` with ``host_exec_note`` ``note``
    (who owns the file is looked at now)."""
    try:
        owner = _owner(conf_path)
    except CtysError:
        owner = -1
    whose = (
        "CREATE boots it for you, its owner"
        if owner == caller_uid()
        else f"it belongs to {_user_name(owner)}: CREATE refuses it"
    )
    return f"ctys: warning: {conf_path}: {note} ({whose})"


def caller_uid() -> int:
    """The user CREATE would run qemu as (a function: tests stand in for another user)."""
    return os.getuid()


def _owner(conf_path: Path) -> int:
    try:
        return conf_path.stat().st_uid
    except OSError as exc:
        raise CtysError(f"cannot check who owns {conf_path}: {exc.strerror}") from exc


def _user_name(uid: int) -> str:
    if uid < 0:
        return "an unknown user"
    try:
        return f"user {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"uid {uid}"


def _line_of(vm: VmConfig, key: str) -> int:
    """The line ``key`` was set on (the file is read again only on this refusal path)."""
    try:
        _, lines = read_vm_conf(vm.conf_path)
    except CtysError:
        return 0
    return lines.keys.get(key) or lines.variables.get(key) or 0
