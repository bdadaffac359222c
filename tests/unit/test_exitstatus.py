"""The one exit-status enum and the one mapping from what ended a command to its status."""

from __future__ import annotations

import signal

import pytest

from ctys.errors import (
    AddressError,
    CommandError,
    ConfError,
    CtysError,
    ExitStatus,
    UsageError,
    exit_status,
)
from ctys.stopsignals import Interrupted


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (CtysError("x"), 1),
        (UsageError("x"), 2),
        (ConfError("a.conf", 3, "bad"), 1),
        (AddressError("x"), 1),
        (CommandError(["qemu-img"], 1, ""), 1),
        (KeyboardInterrupt(), 130),
        (Interrupted(signal.SIGTERM), 143),
        (Interrupted(signal.SIGHUP), 129),
        (RuntimeError("x"), 1),
    ],
)
def test_each_ending_has_its_status(exc: BaseException, status: int) -> None:
    assert exit_status(exc) == status


def test_the_statuses_a_shell_and_ssh_report() -> None:
    assert (ExitStatus.TIMEOUT, ExitStatus.NOT_FOUND, ExitStatus.SSH) == (124, 127, 255)
    assert ExitStatus.BROKEN_PIPE == 128 + signal.SIGPIPE
    assert ExitStatus.INTERRUPTED == 128 + signal.SIGINT
