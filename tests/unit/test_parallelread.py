"""How many processes read the confs of a first scan (``ctys.address.parallelread``): one
for this process and one for each CPU that sat idle during the walk."""

from __future__ import annotations

import pytest

from ctys.address import parallelread
from ctys.address.parallelread import cpu_ticks, workers_since


@pytest.fixture
def two_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallelread.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(parallelread, "cpus", lambda: 2)
    monkeypatch.setattr(parallelread, "idle_cpus", lambda: 99)  # marks the fallback


@pytest.mark.parametrize(
    ("idle", "total", "workers"),
    [
        (100, 200, 2),  # the other CPU idle all along: it reads too
        (80, 200, 2),  # idle 80% of the time
        (60, 200, 1),  # idle 60%: another process has it
        (0, 200, 1),  # both busy
        (200, 200, 2),  # (this process waited on the disk too) never more than cpus()
    ],
)
def test_workers_are_this_process_and_the_cpus_idle_during_the_walk(
    two_cpus: None, idle: int, total: int, workers: int
) -> None:
    assert workers_since((1000, 5000), (1000 + idle, 5000 + total)) == workers


def test_without_ticks_or_over_too_short_a_walk_the_load_average_decides(
    two_cpus: None,
) -> None:
    assert workers_since(None, (10, 20)) == 99
    assert workers_since((1000, 5000), (1005, 5009)) == 99  # under 5 ticks a CPU


def test_cpu_ticks_are_read_from_proc_stat() -> None:
    before = cpu_ticks()
    assert before is not None  # Linux
    sum(range(2_000_000))
    after = cpu_ticks()
    assert after is not None
    assert 0 <= before[0] <= before[1]
    assert after[0] >= before[0] and after[1] >= before[1]
    assert after[1] - after[0] >= before[1] - before[0]  # busy time never shrinks
