"""ISACTIVE=<id>: whether a VM runs here, in the original's form ``ISACTIVE(QEMU,<id>)=0``
(it runs: the shell's "true") or ``=1`` (it does not). Exit status 0 either way, as the
original's (VM-STACK asks it of each execution target)."""

from __future__ import annotations

from ctys.invocation import ActionCall
from ctys.plugins.base import RunContext

ACTIVE, INACTIVE = 0, 1
USAGE = "ISACTIVE=<id> (the conf file's path, or a label, UUID, runtime ID or PID)"


def answer_line(arg: str, active: bool) -> str:
    """``ISACTIVE(QEMU,<arg>)=0|1``."""
    return f"ISACTIVE(QEMU,{arg})={ACTIVE if active else INACTIVE}"


def run_isactive(call: ActionCall, ctx: RunContext) -> int:
    """Print the answer line; 0."""
    from ctys.plugins.qemu.actions.sessionmatch import helper_argument, matches, running_entries
    from ctys.textescape import printable

    arg, words = helper_argument(call, USAGE)
    active = any(matches(e, words) for e in running_entries(ctx))
    print(printable(answer_line(arg, active)), file=ctx.out)
    return 0
