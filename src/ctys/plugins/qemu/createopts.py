"""The original's CREATE suboptions beyond booting (COMPAT §6): ``PING``/``SSHPING``,
``WAITC``/``WAITS``, ``USER``, ``STACKCHECK`` and ``ARGSADD``'s ``(C|S|B)%`` target
field, each parsed into a typed value. ``ctys.plugins.qemu.requests.parse_create`` calls
these; every malformed value is a ``UsageError`` naming the suboption."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ctys.errors import UsageError
from ctys.invocation import Suboption

# The original's defaults (CTYS_PING_ONE_MAXTRIAL_QEMU, CTYS_PING_ONE_WAIT_QEMU and the
# SSHPING pair): 20 tries, 2 seconds apart; both waits are off unless asked for.
PROBE_COUNT = 20
PROBE_INTERVAL = 2.0
MAX_SECONDS = 86400
_LOGIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class ProbeSpec:
    """``PING:`` / ``SSHPING:``: poll the guest ``count`` times, ``interval`` seconds
    apart, until it answers."""

    enabled: bool = False
    count: int = PROBE_COUNT
    interval: float = PROBE_INTERVAL


PROBE_OFF = ProbeSpec()


def parse_probe(sub: Suboption) -> ProbeSpec:
    """``KEY:ON`` (20 tries, 2 s apart), ``KEY:OFF``, ``KEY:<count>%<sleep>`` (on, with
    those: the original only set the numbers, ON was still needed; here they turn it on)."""
    usage = f"'{sub.raw}': expected {sub.key}:ON, {sub.key}:OFF or {sub.key}:<count>%<seconds>"
    if len(sub.args) == 1 and sub.args[0].upper() in ("ON", "OFF"):
        return ProbeSpec(enabled=sub.args[0].upper() == "ON")
    if len(sub.args) != 2:
        raise UsageError(usage)
    count, interval = sub.args
    if not count.isdigit() or not 1 <= int(count) <= 10000:
        raise UsageError(f"{usage}; the count must be a number from 1 to 10000, not '{count}'")
    return ProbeSpec(True, int(count), _seconds(sub, interval))


def _seconds(sub: Suboption, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"'{sub.raw}': '{text}' is not a number of seconds") from None
    if not 0 <= value <= MAX_SECONDS:  # also refuses nan
        raise UsageError(f"'{sub.raw}': {text} seconds is out of range (0 to {MAX_SECONDS})")
    return value


def parse_wait_seconds(sub: Suboption) -> float:
    """``WAITC:<seconds>`` / ``WAITS:<seconds>``."""
    if len(sub.args) != 1:
        raise UsageError(f"'{sub.raw}': expected {sub.key}:<seconds>")
    return _seconds(sub, sub.args[0])


def parse_user(sub: Suboption) -> str:
    """``USER:<login>``: the guest account SSHPING logs in as. The original's
    ``%<credentials>`` is refused: a password on the command line is readable by every
    local user (ssh uses your keys and agent)."""
    if len(sub.args) > 1:
        raise UsageError(
            f"'{sub.raw}': credentials are never taken on the command line; give USER:<login>"
            " and let ssh use your keys or agent"
        )
    if len(sub.args) != 1 or not _LOGIN.fullmatch(sub.args[0]):
        raise UsageError(f"'{sub.raw}': expected USER:<login name>")
    return sub.args[0]


@dataclass(frozen=True)
class StackCheck:
    """``STACKCHECK:``: which checks of the VM's requirements against this host run before
    it boots: ``STACKCAP`` (its ``STACKREQ``), ``HWCAP`` (its ``HWREQ``; named explicitly
    also its VCPU and memory: ``sizes``), ``CONTEXT`` (accepted: ctys has no stack context
    to check beyond these). By default only what the conf requires is checked."""

    stackcap: bool = True
    hwcap: bool = True
    context: bool = True
    sizes: bool = False  # STACKCHECK:HWCAP given: VCPU and MEMSIZE against the host too

    @property
    def off(self) -> bool:
        return not (self.stackcap or self.hwcap)


STACKCHECK_DEFAULT = StackCheck()

_CHECK_WORDS = {
    "STACKCAP": ("stackcap", True),
    "NOSTACKCAP": ("stackcap", False),
    "HWCAP": ("hwcap", True),
    "NOHWCAP": ("hwcap", False),
    "CONTEXT": ("context", True),
    "NOCONTEXT": ("context", False),
}


def parse_stackcheck(sub: Suboption) -> StackCheck:
    """``STACKCHECK:OFF`` or ``STACKCHECK:[NO]CONTEXT%[NO]HWCAP%[NO]STACKCAP`` (any of them,
    any order); an unnamed check keeps its default (on)."""
    words = [arg.upper() for arg in sub.args]
    if not words or "" in words:
        raise UsageError(
            f"'{sub.raw}': expected STACKCHECK:OFF or [NO]CONTEXT%[NO]HWCAP%[NO]STACKCAP"
        )
    if words == ["OFF"]:
        return StackCheck(False, False, False)
    flags = {"stackcap": True, "hwcap": True, "context": True}
    for word in words:
        if word not in _CHECK_WORDS:
            valid = "OFF, " + ", ".join(_CHECK_WORDS)
            raise UsageError(f"'{sub.raw}': unknown check '{word}' ({valid})")
        name, value = _CHECK_WORDS[word]
        flags[name] = value
    return StackCheck(**flags, sizes=flags["hwcap"] and "HWCAP" in words)


# ARGSADD's first field: the side the arguments are for.
_ARGS_SIDES = {"S": "server", "C": "client", "B": "both"}


def parse_argsadd(sub: Suboption) -> tuple[str, ...]:
    """``ARGSADD:S%<args>``: the qemu (server) arguments; ``C%``/``B%`` (the client, both)
    are refused, as the original does; a first field that is none of them is an argument
    itself (``ARGSADD:-snapshot``, ctys's form)."""
    if not sub.args or not any(sub.args):
        raise UsageError(f"'{sub.raw}' needs qemu arguments (ARGSADD:S%-opt%value...)")
    side, *rest = sub.args
    if side not in _ARGS_SIDES:
        return tuple(sub.args)
    if side != "S":
        raise UsageError(
            f"'{sub.raw}': ARGSADD for the {_ARGS_SIDES[side]} ({side}) is not supported;"
            " only S (the server: qemu's arguments) is, as in the original"
        )
    if not rest or not any(rest):
        raise UsageError(f"'{sub.raw}' needs qemu arguments after S% (ARGSADD:S%-snapshot)")
    return tuple(rest)
