"""Who may boot a conf whose ARGS make qemu run host programs (``ctys.qemu.hostexec``).

Only the conf file's owner: their file, their program, their account. For anyone else
CREATE refuses with one line naming the file, the line of ARGS and the argument; LIST and
ENUMERATE print a warning line for every such conf they show.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterable, Iterator

from ctys.conf.model import VmConfig
from ctys.errors import ConfError, CtysError
from ctys.qemu.hostexec import HostExec, find_host_exec


def check_may_boot(vm: VmConfig) -> None:
    """``ConfError`` when ``vm``'s ARGS run host code and its conf file is not the caller's."""
    found = find_host_exec(vm.extra_args)
    if not found:
        return
    owner = _owner(vm)
    if owner == caller_uid():
        return
    raise ConfError(
        str(vm.conf_path),
        _args_line(vm),
        f"not booted: ARGS {found[0].describe()}, and this conf file belongs to "
        f"{_user_name(owner)}; only its owner may boot it",
    )


def host_exec_warnings(vms: Iterable[VmConfig]) -> Iterator[str]:
    """One ``warning:`` line for each of ``vms`` whose ARGS run host code."""
    for vm in vms:
        found = find_host_exec(vm.extra_args)
        if found:
            yield _warning(vm, found)


def _warning(vm: VmConfig, found: tuple[HostExec, ...]) -> str:
    try:
        owner = _owner(vm)
    except CtysError:
        owner = -1
    whose = (
        "CREATE boots it for you, its owner"
        if owner == caller_uid()
        else f"it belongs to {_user_name(owner)}: CREATE refuses it"
    )
    what = "; ".join(item.describe() for item in found)
    return f"ctys: warning: {vm.conf_path}: ARGS {what} ({whose})"


def caller_uid() -> int:
    """The user CREATE would run qemu as (a function: tests stand in for another user)."""
    return os.getuid()


def _owner(vm: VmConfig) -> int:
    try:
        return vm.conf_path.stat().st_uid
    except OSError as exc:
        raise CtysError(f"cannot check who owns {vm.conf_path}: {exc.strerror}") from exc


def _user_name(uid: int) -> str:
    if uid < 0:
        return "an unknown user"
    try:
        return f"user {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"uid {uid}"


def _args_line(vm: VmConfig) -> int:
    """The line ARGS was set on (the file is read again only on this refusal path)."""
    from ctys.conf.parser import read_conf_with_lines

    try:
        _, lines = read_conf_with_lines(vm.conf_path)
    except CtysError:
        return 0
    return lines.keys.get("ARGS") or lines.variables.get("ARGS") or 0
