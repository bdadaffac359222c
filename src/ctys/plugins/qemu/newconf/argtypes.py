"""What the plugin's console scripts (``ctys-createConfVM``, ``ctys-cloneVM``) share in
their argparse setup: errors as one-line ``UsageError``s, checked value types."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn, TextIO

from ctys.errors import CtysError, UsageError, exit_status
from ctys.textescape import one_line


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one-line ``UsageError``s instead of usage dumps."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def checked(check: Callable[[str], str]) -> Callable[[str], str]:
    """An argparse ``type`` from a ``newvm.check_*`` function: a bad value is bad usage."""

    def convert(text: str) -> str:
        try:
            return check(text)
        except CtysError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


def run_reporting(prog: str, err: TextIO, body: Callable[[], int]) -> int:
    """``body()``'s exit status; a ``CtysError`` or Ctrl-C in it is one line
    ``PROG: …`` on ``err`` and its exit status."""
    try:
        return body()
    except CtysError as error:
        print(f"{prog}: {one_line(str(error))}", file=err)
        return exit_status(error)
    except KeyboardInterrupt as stop:
        print(f"{prog}: interrupted", file=err)
        return exit_status(stop)
