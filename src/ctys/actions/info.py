"""INFO: what this host can run — qemu binaries, versions, accelerators, KVM verdict."""

from __future__ import annotations

from ctys.cli.syntax import ActionCall
from ctys.errors import UsageError
from ctys.plugins.base import RunContext

INFO_FIELDS = ("binary", "version", "arch", "accelerators", "default machine", "kvm")


def run_info(call: ActionCall, ctx: RunContext) -> int:
    """Print one row per qemu binary; ``INFO=REFRESH`` re-probes instead of using the cache."""
    from ctys.cli.output import render
    from ctys.qemu.detect import detect_host, host_report

    refresh = False
    for sub in call.suboptions:
        if sub.key == "REFRESH" and not sub.args:
            refresh = True
        else:
            raise UsageError(f"unknown INFO suboption '{sub.raw}'")
    host = detect_host(refresh=refresh)
    rows = host_report(host)
    if not rows:
        print("no qemu binaries found (install qemu-system-x86)", file=ctx.err)
        return 1
    fields = list(ctx.invocation.output_fields) or list(INFO_FIELDS)
    render(rows, fields, ctx.invocation.output_format, ctx.out)
    return 0
