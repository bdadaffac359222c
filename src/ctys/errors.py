"""The one exception hierarchy of ctys and the one set of exit statuses.

Every error a user can cause or meet is a ``CtysError`` carrying a one-line message; a
command prints it as ``ctys: <message>`` and exits with its ``exit_code``, an
``ExitStatus``. ``exit_status`` is the one mapping from what ended a command to its
status (``ctys.runguard.run_guarded`` uses it for every entry point).

Core, the lowest layer: imports nothing of ctys.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Every exit status a ctys command ends with or reads from a command it ran."""

    OK = 0
    ERROR = 1  # a CtysError; also stdout/stderr that cannot be written
    OUTPUT = 1  # (the same status) stdout or stderr could not be written
    NO_MATCH = 1  # (the same status) ctys-vhost found no record, like grep
    USAGE = 2  # bad command-line syntax
    AMBIGUOUS = 11  # ctys-vhost -M UNIQUE: several records match (the original's 11)
    TIMEOUT = 124  # what timeout(1) reports for a command it killed
    NOT_FOUND = 127  # the shell's "command not found": no ctys on that host
    INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT
    BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the pipe
    SSH = 255  # ssh's own status for "could not connect / authenticate"


def signal_status(signum: int) -> int:
    """The status a shell reports for a command ended by signal ``signum`` (128 + N)."""
    return 128 + signum


def exit_status(exc: BaseException) -> int:
    """The exit status a command ends with when ``exc`` ends it: a ``CtysError`` its
    ``exit_code``; Ctrl-C (or SIGTERM/SIGHUP raised as a ``KeyboardInterrupt`` with an
    ``exit_code``, see ``ctys.stopsignals``) 128 + the signal; anything else ``ERROR``."""
    if isinstance(exc, CtysError):
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return int(getattr(exc, "exit_code", ExitStatus.INTERRUPTED))
    return ExitStatus.ERROR


class CtysError(Exception):
    """Base of every expected error; ``str(err)`` is the one line shown to the user."""

    exit_code: ExitStatus = ExitStatus.ERROR


class UsageError(CtysError):
    """Bad command-line syntax: unknown option, action, suboption or malformed value."""

    exit_code = ExitStatus.USAGE


class ConfError(CtysError):
    """A conf file that cannot be parsed or holds a forbidden construct."""

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path}:{line}: {message}")


class AddressError(CtysError):
    """A machine address that matches nothing, or several VMs where one is needed."""


class VmError(CtysError):
    """The hypervisor is missing or refused to start, or a VM is in a state we cannot handle."""


class VmStateError(CtysError):
    """The VM is not in the state the action needs (already running, not running, ...)."""


class CommandError(CtysError):
    """An external command failed; the message carries its argv and stderr."""

    def __init__(self, argv: list[str], returncode: int, stderr: str) -> None:
        self.argv = argv
        self.returncode = returncode
        self.stderr = stderr
        tail = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
        super().__init__(f"{argv[0]} failed (exit {returncode}): {tail}")
