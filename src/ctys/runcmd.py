"""The one helper that runs an external command and turns its failures into CtysErrors."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ctys.errors import CommandError, CtysError


def run_command(
    argv: Sequence[str],
    *,
    timeout: float | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    missing: str | None = None,
    error: type[CtysError] = CtysError,
    input_text: str | None = None,
) -> str:
    """Run ``argv`` (no shell; stdin is ``input_text``, else nothing) and return its stdout.

    A non-zero exit is a ``CommandError`` carrying stderr. A program that cannot be
    started, or runs past ``timeout`` seconds, is an ``error``: ``missing`` is its message
    when the program does not exist.
    """
    args = list(argv)
    try:
        done = subprocess.run(
            args,
            **({"input": input_text} if input_text is not None else {"stdin": subprocess.DEVNULL}),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            cwd=cwd,
            env=None if env is None else dict(env),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise error(f"{args[0]} {' '.join(args[1:])} did not finish in {timeout:g}s") from exc
    except FileNotFoundError as exc:
        raise error(missing or f"cannot run {args[0]}: {exc.strerror}") from exc
    except OSError as exc:
        raise error(f"cannot run {args[0]}: {exc.strerror}") from exc
    if done.returncode != 0:
        raise CommandError(args, done.returncode, done.stderr)
    return done.stdout
