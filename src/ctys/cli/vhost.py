"""``ctys-vhost``: query the inventory (name-service cache) like the original's tool.

    ctys-vhost [--inventory PATH | -p DIR] [-C LIST|CLEAR] [-o FIELDS] [-M RULE] [-t|-j]
               [--title] [--host NAME] [--import FILE] [--export FILE [--format enum|ctys]]
               [PATTERN ...]

Exit status: 0 when something matched (or an admin operation succeeded), 1 when nothing
matched or on an error, 2 for bad usage, 11 when ``-M UNIQUE`` finds several different
records (the original's status). Every error is one line ``ctys-vhost: ...``.
docs/inventory.md describes the options.

The entry point only: a query of exact field terms (``L:web1``) is answered by
``ctys.cli.vhostlean`` with a few small imports (a query's start-up is most of its cost);
everything else, and every error, by ``ctys.cli.vhostfull``.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ctys-vhost`` with ``argv`` (``sys.argv[1:]`` when None); return exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    from ctys.cli.vhostlean import answer

    status = answer(args)
    if status is not None:
        return status
    from ctys.cli.vhostfull import main as full

    return full(args)
