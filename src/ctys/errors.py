"""The one exception hierarchy of ctys.

Every error a user can cause or meet is a ``CtysError`` carrying a one-line message;
the CLI prints it as ``ctys: <message>`` and exits with ``exit_code``.
"""

from __future__ import annotations


class CtysError(Exception):
    """Base of every expected error; ``str(err)`` is the one line shown to the user."""

    exit_code = 1


class UsageError(CtysError):
    """Bad command-line syntax: unknown option, action, suboption or malformed value."""

    exit_code = 2


class ConfError(CtysError):
    """A conf file that cannot be parsed or holds a forbidden construct."""

    def __init__(self, path: str, line: int, message: str) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path}:{line}: {message}")


class AddressError(CtysError):
    """A machine address that matches nothing, or several VMs where one is needed."""


class QemuError(CtysError):
    """QEMU is missing, refused to start, or a VM is in a state we cannot handle."""


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
