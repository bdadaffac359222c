"""CANCEL=...,SELF: after its VMs, the execution target itself goes down (power off,
reboot, or ``telinit <n>``), as in the original.

Powering off a host is never done on a guess: SELF is confirmed before anything is
cancelled, by naming the host (``SELF:<hostname>``, which also works over ssh and in
scripts) or, for a bare ``SELF``, by typing its name on the terminal ctys runs on. Without
a terminal a bare SELF is refused and nothing is done. PAUSE|S3 and SUSPEND|S4 of the host
are mapped to a power-off (the original did the same, with a warning)."""

from __future__ import annotations

import shutil
import socket
import sys
from typing import TextIO

from ctys.errors import CtysError, UsageError
from ctys.plugins.qemu.cancelreq import CancelMode, CancelRequest
from ctys.runcmd import run_command


def host_name() -> str:
    return socket.gethostname()


def _same_host(given: str, name: str) -> bool:
    short = name.split(".", 1)[0]
    return given.lower() in (name.lower(), short.lower())


def confirm_self(
    req: CancelRequest, *, name: str | None = None, stdin: TextIO | None = None,
    err: TextIO | None = None,
) -> None:  # fmt: skip
    """Raise ``UsageError`` (nothing done yet) unless SELF is confirmed for this host."""
    if req.self_target is None:
        return
    name = name or host_name()
    given = req.self_target.confirm
    if given is not None:
        if not _same_host(given, name):
            raise UsageError(f"SELF:{given} names another host: this is {name}; nothing done")
        return
    stdin = stdin or sys.stdin
    err = err or sys.stderr
    if not (stdin.isatty() and err.isatty()):
        raise UsageError(
            f"SELF powers off this host ({name}) after its VMs: confirm with SELF:{name}"
            " (no terminal to ask on); nothing done"
        )
    print(
        f"CANCEL ...,SELF takes this host ({name}) down after its VMs. Type its name to go on: ",
        end="",
        file=err,
        flush=True,
    )
    if not _same_host(stdin.readline().strip(), name):
        raise UsageError(f"SELF not confirmed for {name}; nothing done")


def self_argv(req: CancelRequest, which: object = shutil.which) -> list[str]:
    """The command that takes this host down in ``req``'s mode."""
    if req.mode is CancelMode.INIT:
        assert req.init_level is not None
        return ["telinit", req.init_level]
    verb = "reboot" if req.mode in (CancelMode.REBOOT, CancelMode.RESET) else "poweroff"
    return ["systemctl", verb] if callable(which) and which("systemctl") else [verb]


def self_note(req: CancelRequest) -> str:
    """Why a PAUSE/SUSPEND of the host is a power-off (empty otherwise)."""
    if req.mode in (CancelMode.PAUSE, CancelMode.SUSPEND):
        return f" ({req.mode.value} of the host itself is mapped to a power-off)"
    return ""


def cancel_self(req: CancelRequest, out: TextIO, *, dry_run: bool = False) -> int:
    """Run ``self_argv``; its failure is one error line (exit 1)."""
    argv = self_argv(req)
    name = host_name()
    if dry_run:
        print(f"{name}: SELF: would run: {' '.join(argv)}{self_note(req)}", file=out)
        return 0
    print(f"{name}: SELF: running {' '.join(argv)}{self_note(req)}", file=out, flush=True)
    try:
        run_command(argv, timeout=60.0)
    except CtysError as exc:
        print(f"{name}: SELF failed: {exc}", file=sys.stderr)
        return 1
    return 0
