"""CANCEL's suboptions (raw ``Suboption`` tokens) → a typed ``CancelRequest``.

The original's syntax (ctys(1))::

    CANCEL=(<address>|ALL)[,FORCE|STACK][,SELF][,RESET|REBOOT|INIT:<n>|PAUSE|S3|SUSPEND|S4
           |POWEROFF|S5[:<timeout>]][,CLIENT|SERVER|BOTH][,TIMEOUT:<s>][,USER:<u>[%<cred>]]

FORCE and STACK choose the direction (no propagation / top-down, the default) and combine
with every mode; at most one mode, one of CLIENT|SERVER|BOTH. ``SELF`` powers off the
execution target itself, so it is confirmed: ``SELF:<hostname>`` names the host, a bare
``SELF`` asks on a terminal (``actions.selfcancel``). ``MACHINE`` (ctys's word, like
``-X``) prints the original's per-VM blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from ctys.address.model import MachineSelector
from ctys.errors import UsageError
from ctys.invocation import ActionCall, Suboption
from ctys.plugins.qemu.requests import _no_args, _one_arg, _split_address

#: The original's default delay before a VM that ignores the power button is killed.
DEFAULT_TIMEOUT = 20.0
TIMEOUT_MAX = 86400.0


class CancelMode(Enum):
    """What CANCEL does to each VM (the original's ACPI names map onto these)."""

    POWEROFF = "POWEROFF"  # S5
    REBOOT = "REBOOT"
    RESET = "RESET"
    INIT = "INIT"  # INIT:<n>, inside the guest
    PAUSE = "PAUSE"  # S3
    SUSPEND = "SUSPEND"  # S4: the full state saved, the process ended


_MODE_WORDS = {
    "POWEROFF": CancelMode.POWEROFF,
    "S5": CancelMode.POWEROFF,
    "REBOOT": CancelMode.REBOOT,
    "RESET": CancelMode.RESET,
    "INIT": CancelMode.INIT,
    "PAUSE": CancelMode.PAUSE,
    "S3": CancelMode.PAUSE,
    "SUSPEND": CancelMode.SUSPEND,
    "S4": CancelMode.SUSPEND,
}

#: The run levels ``telinit`` takes (``S``/``s``: single user).
INIT_LEVELS = frozenset("0123456Ss")


class Scope(Enum):
    """Which part of a VM CANCEL ends: its viewers/console attachers, the VM, or both."""

    CLIENT = "CLIENT"
    SERVER = "SERVER"
    BOTH = "BOTH"

    @property
    def clients(self) -> bool:
        return self is not Scope.SERVER

    @property
    def server(self) -> bool:
        return self is not Scope.CLIENT


@dataclass(frozen=True)
class SelfRequest:
    """``SELF``: the execution target itself after its VMs; ``confirm`` is the host name
    given with ``SELF:<hostname>`` (``None``: ask on a terminal)."""

    confirm: str | None = None


@dataclass(frozen=True)
class CancelRequest:
    selector: MachineSelector
    all_vms: bool = False
    mode: CancelMode = CancelMode.POWEROFF
    force: bool = False  # FORCE: no propagation to the VMs inside; the VM killed after the wait
    timeout: float = DEFAULT_TIMEOUT  # TIMEOUT: each level's wait (also the inner CANCELs')
    poweroff_timeout: float | None = None  # POWEROFF|S5:<s>: this VM's wait before the kill
    init_level: str | None = None  # INIT:<n>
    scope: Scope = Scope.SERVER
    self_target: SelfRequest | None = None
    user: str | None = None  # USER:<u>: the guest account for ssh into the guest (INIT)
    machine: bool = False  # MACHINE: the original's block output (as -X)

    @property
    def stop_timeout(self) -> float:
        """How long the guest has to power off before it is killed."""
        return self.timeout if self.poweroff_timeout is None else self.poweroff_timeout

    @property
    def stack(self) -> bool:
        """STACK (the default): the VMs inside a hypervisor VM are cancelled first."""
        return not self.force


def _seconds(sub: Suboption, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise UsageError(f"'{sub.raw}': {sub.key} needs seconds, not '{value}'") from None
    if not (math.isfinite(seconds) and 0 <= seconds <= TIMEOUT_MAX):
        raise UsageError(f"'{sub.raw}': {sub.key} {value} out of range (0..86400 seconds)")
    return seconds


def _mode(sub: Suboption, fields: dict[str, object]) -> CancelMode:
    mode = _MODE_WORDS[sub.key]
    if mode is CancelMode.INIT:
        level = _one_arg(sub)
        if level not in INIT_LEVELS:
            raise UsageError(f"'{sub.raw}': INIT needs a run level 0-6 or S, not '{level}'")
        fields["init_level"] = level
    elif mode is CancelMode.POWEROFF and sub.args:
        fields["poweroff_timeout"] = _seconds(sub, _one_arg(sub))
    else:
        _no_args(sub)
    return mode


def _user(sub: Suboption) -> str:
    if not sub.args or not sub.args[0]:
        raise UsageError(f"'{sub.raw}' needs a user name (USER:NAME)")
    if len(sub.args) > 1:
        # ssh into the guest reads no password from ctys: BatchMode, keys or the agent only.
        raise UsageError(
            f"'{sub.raw}': a credential is never given on the command line (every user"
            " sees it); ssh into the guest uses your keys or ssh-agent: drop %<credentials>"
        )
    return sub.args[0]


def _exclusive(sub: Suboption, given: str | None, choices: str) -> str:
    """One of an exclusive set (``FORCE|STACK``, ``CLIENT|SERVER|BOTH``): a second,
    different one is an error naming both; returns the word given."""
    _no_args(sub)
    if given is not None and given != sub.key:
        raise UsageError(f"CANCEL takes one of {choices}, not both {given} and {sub.key}")
    return sub.key


def parse_cancel(call: ActionCall) -> CancelRequest:
    """CANCEL suboptions → ``CancelRequest``; every error names its token."""
    selector, rest = _split_address(call)
    fields: dict[str, object] = {}
    modes: list[str] = []
    direction: str | None = None
    scope: str | None = None
    for sub in rest:
        key = sub.key
        if key == "ALL":
            _no_args(sub)
            fields["all_vms"] = True
        elif key in _MODE_WORDS:
            fields["mode"] = _mode(sub, fields)
            modes.append(key)
        elif key in ("FORCE", "STACK"):
            direction = _exclusive(sub, direction, "FORCE|STACK")
        elif key in Scope.__members__:
            scope = _exclusive(sub, scope, "CLIENT|SERVER|BOTH")
        elif key == "SELF":
            if len(sub.args) > 1 or (sub.args and not sub.args[0]):
                raise UsageError(f"'{sub.raw}': expected SELF or SELF:<hostname>")
            fields["self_target"] = SelfRequest(sub.args[0] if sub.args else None)
        elif key == "TIMEOUT":
            fields["timeout"] = _seconds(sub, _one_arg(sub))
        elif key == "USER":
            fields["user"] = _user(sub)
        elif key == "MACHINE":
            _no_args(sub)
            fields["machine"] = True
        else:
            raise UsageError(f"unknown CANCEL suboption '{sub.raw}'")
    if len(modes) > 1:
        raise UsageError(f"CANCEL takes one mode, not {' and '.join(modes)}")
    all_vms = bool(fields.get("all_vms"))
    if all_vms and not selector.empty:
        raise UsageError("CANCEL takes either ALL or a machine address, not both")
    if not all_vms and selector.empty:
        raise UsageError("CANCEL needs a machine address (e.g. l:LABEL) or ALL")
    if scope == "CLIENT" and modes:
        raise UsageError(f"CLIENT closes the VM's viewers only; it takes no mode ({modes[0]})")
    if scope == "CLIENT" and "self_target" in fields:
        raise UsageError("CLIENT closes the VM's viewers only; SELF needs SERVER or BOTH")
    return CancelRequest(
        selector=selector,
        force=direction == "FORCE",
        scope=Scope(scope or "SERVER"),
        **fields,  # type: ignore[arg-type]
    )
