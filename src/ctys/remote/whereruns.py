"""Where a multipath VM runs already: asked of every candidate host before an action is
placed (remote hosts with the plugin's running-VMs rows, ``Placement.running_args``; this host
in-process), so a VM is never started a second time on another host."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TextIO

from ctys.errors import CtysError

if TYPE_CHECKING:
    from ctys.plugins.base import Placement
    from ctys.remote.fanout import TargetResult
    from ctys.remote.placement import Candidate


@dataclass(frozen=True)
class RunsOn:
    """A candidate host on which the VM runs, and its pid there."""

    candidate: Candidate
    pid: int


def where_running(
    found: Sequence[Candidate],
    results: Sequence[TargetResult],
    err: TextIO,
    placement: Placement,
) -> tuple[list[RunsOn], set[str]]:
    """The candidates on which the VM runs, and the hosts that did not answer (each gets
    its ``ctys: host: ...`` line on ``err``). ``results``: the fan-out of
    ``placement.running_args`` over the remote candidates; this host is looked at
    in-process."""
    from ctys.remote.merge import error_line, json_rows

    by_host = {r.target: r for r in results}
    runs: list[RunsOn] = []
    silent: set[str] = set()
    for cand in found:
        if cand.local:
            pid = placement.local_pid(cand.uuid, cand.pname)
        else:
            result = by_host.get(cand.host)
            if result is None:
                continue
            asked = " ".join(placement.running_args)
            reason = result.error or f"{asked} failed (exit {result.returncode})"
            rows = None
            if result.error is None and result.returncode == 0:
                try:
                    rows = json_rows(result)
                except CtysError as exc:
                    reason = str(exc)
            if rows is None:
                print(error_line(replace(result, error=reason)), file=err)
                silent.add(cand.host)
                continue
            pid = placement.pid_in_rows(rows, cand.uuid, cand.pname)
        if pid is not None:
            runs.append(RunsOn(cand, pid))
    return runs, silent
