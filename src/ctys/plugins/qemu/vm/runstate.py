"""QEMU's run states (QMP ``RunState``) as one enum, parsed once at the monitor's edge."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum


class RunState(Enum):
    """The run state ``query-status`` (or HMP ``info status``) reports for a VM."""

    RUNNING = "running"
    PAUSED = "paused"
    INTERNAL_ERROR = "internal-error"
    GUEST_PANICKED = "guest-panicked"
    SHUTDOWN = "shutdown"
    SUSPENDED = "suspended"
    IO_ERROR = "io-error"
    WATCHDOG = "watchdog"
    PRELAUNCH = "prelaunch"
    INMIGRATE = "inmigrate"
    POSTMIGRATE = "postmigrate"
    FINISH_MIGRATE = "finish-migrate"
    SAVE_VM = "save-vm"
    RESTORE_VM = "restore-vm"
    DEBUG = "debug"
    COLO = "colo"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, text: str) -> RunState:
        """The state QEMU names ``text``; ``UNKNOWN`` for a name this enum does not know."""
        try:
            return cls(text)
        except ValueError:
            return cls.UNKNOWN

    @property
    def failed(self) -> bool:
        """The guest crashed or QEMU gave up on it: waiting for it is pointless."""
        return self in (RunState.INTERNAL_ERROR, RunState.GUEST_PANICKED)

    @property
    def answers_acpi(self) -> bool:
        """Only a running guest can react to the ACPI power button; in any other state
        waiting for it only wastes the timeout."""
        return self is RunState.RUNNING


def reply_status(reply: object) -> str | None:
    """The ``status`` a ``query-status`` reply names, ``None`` when it names none."""
    if not isinstance(reply, Mapping):
        return None
    status = reply.get("status")
    return status if isinstance(status, str) else None
