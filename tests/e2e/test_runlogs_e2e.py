"""The logs of a run outlive its runtime folder (CANCEL, a failed start) and errors name them."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

from support.cli import Ctys
from support.procs import live_qemu_pids


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _kept(ctys_env: dict[str, str], label: str) -> Path:
    [folder] = Path(ctys_env["XDG_STATE_HOME"], "ctys", "logs").glob(f"{label}-*")
    return folder


def test_cancel_keeps_the_logs_of_the_run(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str]
) -> None:
    make_vm("lg")
    done = ctys("-t", "QEMU", "-a", "CREATE=l:lg,WAIT:CTYS-GUEST-READY", "-b", "1", timeout=120)
    assert done.returncode == 0, done.stderr
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:lg,FORCE").returncode == 0
    assert not list(Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob("lg-*"))
    kept = _kept(ctys_env, "lg")
    assert "CTYS-GUEST-READY" in (kept / "console.log").read_text(errors="replace")
    assert (kept / "qemu.log").exists()
    assert _mode(kept) == 0o700
    assert {_mode(p) for p in kept.iterdir()} == {0o600}


def test_failed_start_names_the_kept_qemu_log(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str]
) -> None:
    make_vm("bad")
    done = ctys("-t", "QEMU", "-a", "CREATE=l:bad,ARGSADD:-no-such-option", "-b", "1")
    assert done.returncode == 1
    kept = _kept(ctys_env, "bad")
    [line] = done.stderr.splitlines()
    assert "qemu failed to start" in line and str(kept / "qemu.log") in line, line
    assert "-no-such-option" in (kept / "qemu.log").read_text()
    assert _mode(kept / "qemu.log") == 0o600
    assert live_qemu_pids(ctys_env["CTYS_RUNTIME_DIR"]) == []
    assert not list(Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob("bad-*"))
