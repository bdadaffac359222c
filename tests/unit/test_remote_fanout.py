"""Fan-out to several targets with a fake ``ssh`` first on PATH: concurrency bound, dead,
hanging and ctys-less hosts, deadlines that kill, exit status."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from ctys.errors import ExitStatus
from ctys.invocation import Target
from ctys.remote.fanout import (
    RemoteSettings,
    TargetResult,
    run_on_targets,
    worst_status,
)
from ctys.remote.merge import error_line, report_streams
from ctys.remote.ssh import ssh_argv

# Behaves like ssh by the host name it is given after "--".
FAKE_SSH = """\
#!{python}
import os, subprocess, sys, time
args = sys.argv[1:]
host, command = args[args.index("--") + 1:]
log = os.environ["FAKE_LOG"]
with open(log, "a") as f:
    f.write(f"start {{host}} {{time.time()}}\\n")
try:
    if host == "dead":
        sys.stderr.write(f"ssh: connect to host {{host}} port 22: Connection refused\\n")
        sys.exit(255)
    if host == "noctys":
        sys.stderr.write("bash: line 1: ctys: command not found\\n")
        sys.exit(127)
    if host == "hang":
        # A child in the same group: the deadline must kill it too.
        child = subprocess.Popen(["sleep", "60"])
        with open(os.environ["FAKE_CHILD"], "w") as f:
            f.write(str(child.pid))
        time.sleep(60)
    if host.startswith("slow"):
        time.sleep(0.4)
    if host == "failing":
        sys.stderr.write("ctys: no VM matches LABEL:x\\n")
        sys.exit(1)
    print(f"out {{host}}: {{command}}")
    sys.stderr.write(f"note from {{host}}\\n")
finally:
    with open(log, "a") as f:
        f.write(f"end {{host}} {{time.time()}}\\n")
"""


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake ssh first on PATH; returns its log (``start|end HOST TIME`` lines)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "ssh"
    script.write_text(FAKE_SSH.format(python=sys.executable))
    script.chmod(0o755)
    log = tmp_path / "log"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_CHILD", str(tmp_path / "child.pid"))
    return log


def build(target: Target) -> list[str]:
    return ssh_argv(
        target, ["-a", "LIST"], user=None, pty=False, connect_timeout=1, control_dir=None
    )


def targets(*names: str) -> list[Target]:
    return [Target(n) for n in names]


def max_overlap(log: Path) -> int:
    events = []
    for line in log.read_text().splitlines():
        kind, _, stamp = line.split()
        events.append((float(stamp), 1 if kind == "start" else -1))
    level = peak = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        level += step
        peak = max(peak, level)
    return peak


def by_name(results: Sequence[TargetResult]) -> dict[str, TargetResult]:
    return {r.target: r for r in results}


def test_bad_hosts_each_give_one_error_and_do_not_block_the_others(fake_ssh: Path) -> None:
    start = time.monotonic()
    results = run_on_targets(targets("ok1", "dead", "hang", "noctys", "ok2"), build, timeout=1.5)
    elapsed = time.monotonic() - start
    assert [r.target for r in results] == ["ok1", "dead", "hang", "noctys", "ok2"]
    got = by_name(results)
    for name in ("ok1", "ok2"):
        assert got[name].ok
        assert got[name].stdout == f"out {name}: ctys -a LIST\n"
        assert got[name].seconds < 1.5
    assert got["dead"].returncode == ExitStatus.SSH
    assert got["dead"].error == "ssh failed: ssh: connect to host dead port 22: Connection refused"
    assert got["noctys"].returncode == ExitStatus.NOT_FOUND
    assert got["noctys"].error is not None
    assert got["noctys"].error.startswith("ctys not found on the host (bash")
    assert got["hang"].returncode == ExitStatus.TIMEOUT
    assert got["hang"].error == "no answer within 1.5s (killed)"
    # The hang cost one deadline, not the sum of anything.
    assert elapsed < 4
    assert worst_status(results) == ExitStatus.SSH


def test_deadline_kills_the_whole_process_group(fake_ssh: Path, tmp_path: Path) -> None:
    (result,) = run_on_targets(targets("hang"), build, timeout=1.0)
    assert result.returncode == ExitStatus.TIMEOUT
    child = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        # A zombie whose parent was killed is reaped by init: wait for that.
        time.sleep(0.05)
    else:
        pytest.fail(f"child {child} of the timed-out ssh still alive")


def test_concurrency_is_bounded(fake_ssh: Path) -> None:
    names = [f"slow{i}" for i in range(8)]
    start = time.monotonic()
    results = run_on_targets(targets(*names), build, max_parallel=3, timeout=10)
    elapsed = time.monotonic() - start
    assert all(r.ok for r in results)
    assert max_overlap(fake_ssh) <= 3
    assert max_overlap(fake_ssh) >= 2  # and they did run in parallel
    # 8 jobs of 0.4 s, 3 at a time: at least 3 rounds.
    assert elapsed >= 1.2


def test_parallel_targets_take_about_one_round(fake_ssh: Path) -> None:
    names = [f"slow{i}" for i in range(8)]
    start = time.monotonic()
    run_on_targets(targets(*names), build, max_parallel=16, timeout=10)
    assert time.monotonic() - start < 0.4 * 8 / 2


def test_ssh_missing_is_a_per_target_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    (result,) = run_on_targets(targets("h"), build, timeout=5)
    assert result.error is not None
    assert result.error.startswith("cannot run ssh:")
    assert result.returncode == ExitStatus.NOT_FOUND


def test_remote_failure_is_not_a_connection_error(fake_ssh: Path) -> None:
    (result,) = run_on_targets(targets("failing"), build, timeout=5)
    assert result.error is None
    assert result.returncode == 1
    assert worst_status([result]) == 1


def test_report_prefixes_every_line_and_gives_one_error_line(
    fake_ssh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = run_on_targets(targets("ok1", "dead", "failing"), build, timeout=5)
    for result in results:
        report_streams(result, sys.stdout, sys.stderr)
    captured = capsys.readouterr()
    assert captured.out == "ok1: out ok1: ctys -a LIST\n"
    assert captured.err.splitlines() == [
        "ok1: note from ok1",
        "ctys: dead: ssh failed: ssh: connect to host dead port 22: Connection refused",
        "ctys: failing: no VM matches LABEL:x",
    ]
    assert error_line(results[1]).startswith("ctys: dead: ")


def test_empty_target_list() -> None:
    assert run_on_targets([], build, timeout=1) == []
    assert worst_status([]) == 0


def test_settings_from_env() -> None:
    got = RemoteSettings.from_env(
        {"CTYS_CONNECT_TIMEOUT": "3", "CTYS_TARGET_TIMEOUT": "9.5", "CTYS_MAX_PARALLEL": "0"}
    )
    assert got == RemoteSettings(connect_timeout=3.0, timeout=9.5, max_parallel=1)
    assert RemoteSettings.from_env({}) == RemoteSettings()
    with pytest.raises(Exception, match="fan-out setting"):
        RemoteSettings.from_env({"CTYS_MAX_PARALLEL": "many"})
