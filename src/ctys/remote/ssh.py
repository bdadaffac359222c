"""The ssh command line that runs ctys on a target host (SPEC §7).

The system OpenSSH client does the connecting, so the user's ``~/.ssh/config``, agent and
jump hosts apply. Everything here is pure: the environment is passed in (default
``os.environ``) and nothing is run.

Quoting: ssh joins its command words with spaces and hands the string to the remote login
shell, which splits it again. So we send ONE word that is already a POSIX-shell-quoted
command line (``shlex.join``): labels, paths and suboptions reach the remote ctys exactly as
they were, never parsed as shell syntax.
"""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from ctys.errors import CtysError
from ctys.invocation import Target
from ctys.rundir import ensure_private_dir, runtime_root

__all__ = [
    "CONTROL_PERSIST_SECONDS",
    "control_dir",
    "default_control_dir",
    "remote_command",
    "remote_ctys",
    "rows_enabled",
    "rows_program",
    "ssh_argv",
    "ssh_host",
    "ssh_options",
    "target_name",
]

CONTROL_PERSIST_SECONDS = 60
# Environment variables the caller (and the tests) use to steer the ssh layer.
ENV_SSH_CONFIG = "CTYS_SSH_CONFIG"  # ``ssh -F FILE``
ENV_REMOTE_CTYS = "CTYS_REMOTE_CTYS"  # the remote ctys command, shell words ("ctys")
ENV_REMOTE_ROWS = "CTYS_REMOTE_ROWS"  # "off": merged rows come from ctys itself
_OFF = frozenset({"off", "no", "0"})


def target_name(target: Target) -> str:
    """The target as the user typed it, without its options: ``host`` or ``user@host``."""
    return f"{target.user}@{target.host}" if target.user else target.host


def ssh_host(target: Target) -> str:
    """The host word for ssh: an IPv6 literal loses its brackets (``[::1]`` -> ``::1``)."""
    host = target.host
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


def remote_ctys(env: Mapping[str, str] | None = None) -> list[str]:
    """The remote ctys command: ``$CTYS_REMOTE_CTYS`` split shell-style, else ``ctys``."""
    environ = os.environ if env is None else env
    words = shlex.split(environ.get(ENV_REMOTE_CTYS, ""))
    return words or ["ctys"]


def rows_enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether merged rows may come from a plugin's lean rows entry: not with
    ``$CTYS_REMOTE_ROWS=off`` (every target then runs ctys itself)."""
    environ = os.environ if env is None else env
    return environ.get(ENV_REMOTE_ROWS, "").strip().lower() not in _OFF


def rows_program(
    script: str, module: str, env: Mapping[str, str] | None = None
) -> list[str] | None:
    """The command of a plugin's lean rows entry (console script ``script``, module
    ``module``), found where the remote ctys is: ``/venv/bin/ctys`` -> ``/venv/bin/SCRIPT``,
    ``ctys`` -> ``SCRIPT`` (on the remote PATH), ``PYTHON -m ctys`` -> ``PYTHON -m MODULE``.
    ``None`` (ctys itself answers) for any other ``$CTYS_REMOTE_CTYS`` (a wrapper) and with
    ``$CTYS_REMOTE_ROWS=off``."""
    environ = os.environ if env is None else env
    if not rows_enabled(environ):
        return None
    words = remote_ctys(environ)
    if len(words) >= 3 and words[-2:] == ["-m", "ctys"]:
        return [*words[:-1], module]
    if len(words) == 1 and PurePosixPath(words[0]).name == "ctys":
        return [str(PurePosixPath(words[0]).with_name(script))]
    return None


def remote_command(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    program: Sequence[str] | None = None,
) -> str:
    """The one string ssh sends: the remote ctys (or ``program``) and ``args``, every word
    shell-quoted."""
    return shlex.join([*(program or remote_ctys(env)), *args])


def control_dir(root: Path) -> Path:
    """Where ControlMaster sockets live: ``<runtime dir>/ssh``, created with mode 0700."""
    path = root / "ssh"
    ensure_private_dir(path)
    return path


def default_control_dir() -> Path | None:
    """The ControlMaster dir under the runtime dir; ``None`` (no connection sharing) when no
    private dir can be had."""
    try:
        return control_dir(runtime_root())
    except CtysError:
        return None


def ssh_options(
    target: Target,
    *,
    user: str | None,
    connect_timeout: float,
    control_dir: Path | None,
    env: Mapping[str, str] | None = None,
    master: bool = True,
) -> list[str]:
    """``ssh`` and the options every connection to ``target`` uses (batch mode, connect
    timeout, ``$CTYS_SSH_CONFIG``, connection sharing in ``control_dir``, the login).
    ``master=False``: use a master connection that runs, never become one (a long-lived
    session, such as a VDE link, must not leave a master behind when it ends)."""
    environ = os.environ if env is None else env
    argv = [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={max(1, math.ceil(connect_timeout))}",
    ]
    config = environ.get(ENV_SSH_CONFIG)
    if config:
        argv += ["-F", config]
    if control_dir is not None:
        argv += [
            "-o",
            "ControlMaster=" + ("auto" if master else "no"),
            "-o",
            # ssh expands "%" tokens in ControlPath: a literal one must be doubled.
            "ControlPath=" + str(control_dir).replace("%", "%%") + "/%C",
        ]
        if master:
            argv += ["-o", f"ControlPersist={CONTROL_PERSIST_SECONDS}"]
    login = target.user or user
    if login:
        argv += ["-l", login]
    return argv


def ssh_argv(
    target: Target,
    remote_argv: Sequence[str],
    *,
    user: str | None,
    pty: bool | int,
    connect_timeout: float,
    control_dir: Path | None,
    env: Mapping[str, str] | None = None,
    forward_agent: bool = False,
    forward_x11: bool = False,
    program: Sequence[str] | None = None,
) -> list[str]:
    """The ssh argv that runs ``ctys *remote_argv`` on ``target`` (``program``: that
    command instead of the remote ctys, e.g. a ``rows_program``).

    ``user`` (from ``-l``) is used unless the target names its own (``user@host``); ``pty``
    asks for a terminal (``-t``, needed by interactive consoles; ``2``: ``-t -t``, as
    ``-z PTY,PTY``), else ``-T``; ``forward_agent`` is ``-Y`` (ssh ``-A``),
    ``forward_x11`` is ``-L DISPLAYFORWARDING`` (ssh ``-X``). With a
    ``control_dir`` one master connection per host is shared and kept for a minute, so a
    fan-out of several commands to one host pays for one handshake. ``--`` ends ssh's
    options: no host can be taken for one.
    """
    environ = os.environ if env is None else env
    argv = ssh_options(
        target, user=user, connect_timeout=connect_timeout, control_dir=control_dir, env=environ
    )
    argv += ["-t"] * int(pty) if pty else ["-T"]
    if forward_agent:
        argv.append("-A")
    if forward_x11:
        argv.append("-X")
    argv += ["--", ssh_host(target), remote_command(remote_argv, environ, program)]
    return argv
