"""Logs of finished runs are kept (private, rotated, bounded) when a runtime folder goes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ctys.plugins.qemu.vm import runlogs
from ctys.plugins.qemu.vm.runtime import RuntimeDir


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _run(runtime: RuntimeDir, vmid: str, text: str) -> Path | None:
    rundir = runtime.create_vm_dir(vmid)
    rundir.qemu_log.write_text(f"qemu {text}\n")
    rundir.console_log.write_text(f"console {text}\n")
    return rundir.remove()


def test_removing_a_runtime_folder_keeps_its_logs_privately(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(os, "umask", os.umask)  # keep the test's umask as it is
    os.umask(0o022)
    runtime = RuntimeDir(tmp_path / "rt")
    kept = _run(runtime, "x-1234", "run1")
    assert kept == tmp_path / "state" / "ctys" / "logs" / "x-1234"
    assert not runtime.vm("x-1234").path.exists()
    assert (kept / "qemu.log").read_text() == "qemu run1\n"
    assert (kept / "console.log").read_text() == "console run1\n"
    assert _mode(kept) == 0o700
    assert _mode(kept / "qemu.log") == _mode(kept / "console.log") == 0o600
    assert runlogs.kept_log("x-1234") == kept / "qemu.log"


def test_only_the_last_runs_of_a_vm_are_kept(tmp_path: Path) -> None:
    runtime = RuntimeDir(tmp_path / "rt")
    root = tmp_path / "logs"
    for i in range(8):
        rundir = runtime.create_vm_dir("v-1")
        rundir.qemu_log.write_text(f"run{i}")
        runlogs.keep_logs(rundir.path, root=root, keep=runlogs.KEEP_RUNS)
    names = sorted(p.name for p in (root / "v-1").iterdir())
    assert names == ["qemu.log", "qemu.log.1", "qemu.log.2", "qemu.log.3", "qemu.log.4"]
    assert (root / "v-1" / "qemu.log").read_text() == "run7"
    assert (root / "v-1" / "qemu.log.4").read_text() == "run3"


def test_a_kept_log_is_the_tail_of_a_huge_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runlogs, "MAX_FILE_BYTES", 10)
    run = tmp_path / "v-2"
    run.mkdir()
    (run / "console.log").write_bytes(b"x" * 1000 + b"0123456789")
    kept = runlogs.keep_logs(run, root=tmp_path / "logs")
    assert kept is not None
    assert (kept / "console.log").read_bytes() == b"0123456789"


def test_the_total_size_of_all_kept_logs_is_bounded(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    for i in range(6):
        folder = root / f"vm{i}-x"
        folder.mkdir(parents=True)
        log = folder / "qemu.log"
        log.write_bytes(b"y" * 100)
        os.utime(log, (1000 + i, 1000 + i))
    runlogs.enforce_total(root, 350)
    left = sorted(p.parent.name for p in root.glob("*/qemu.log"))
    assert left == ["vm3-x", "vm4-x", "vm5-x"]  # the oldest went first


def test_nothing_to_keep_and_an_unwritable_store_are_no_error(tmp_path: Path) -> None:
    run = tmp_path / "v-3"
    run.mkdir()
    assert runlogs.keep_logs(run, root=tmp_path / "logs") is None
    (run / "qemu.log").write_text("boom")
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert runlogs.keep_logs(run, root=blocker / "logs") is None


def test_home_is_shown_as_tilde(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert runlogs.shown(tmp_path / ".local" / "x") == "~/.local/x"
    assert runlogs.shown(Path("/elsewhere/x")) == "/elsewhere/x"
