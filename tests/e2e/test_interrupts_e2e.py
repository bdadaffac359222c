"""SIGINT/SIGTERM/SIGHUP to a CREATE at every moment: the qemu it started is either
stopped (folder gone, logs kept) or left fully managed (CANCEL stops it), never orphaned."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from support.cli import CTYS, Ctys
from support.procs import live_qemu_pids

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


def _default_signals() -> None:
    """In the child: the signals as a terminal's shell hands them over. A test run under
    nohup or as a background job has SIGHUP/SIGINT ignored, and ctys keeps them ignored
    (test_signals.test_an_ignored_signal_stays_ignored)."""
    for signum in SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def _folders(runtime: str, label: str) -> list[Path]:
    vms = Path(runtime, "vms")
    return list(vms.glob(f"{label}-*")) if vms.is_dir() else []


def _interrupt_create(
    ctys_env: dict[str, str], label: str, signum: int, moment: str
) -> tuple[int, str]:
    """Run CREATE, send ``signum`` at ``moment``; return (exit status, stderr)."""
    runtime = ctys_env["CTYS_RUNTIME_DIR"]
    argv = [*CTYS, "-t", "QEMU", "-a"]
    # WAIT on a text the guest never prints keeps ctys busy after the start line.
    argv.append(
        f"CREATE=l:{label},WAIT:NEVER-PRINTED" if moment == "started" else f"CREATE=l:{label}"
    )
    proc = subprocess.Popen(
        [*argv, "-b", "1"],
        env=ctys_env,
        preexec_fn=_default_signals,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stopped: list[int] = []
    deadline = time.monotonic() + 30
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            folders = _folders(runtime, label)
            if moment == "record" and folders and (folders[0] / "state.json").exists():
                break
            if moment == "monitor":
                qemus = live_qemu_pids(runtime)
                if qemus:
                    # Freeze qemu: its monitor cannot answer, so ctys is surely still
                    # waiting for it in launch() when the signal comes.
                    os.kill(qemus[0], signal.SIGSTOP)
                    stopped = qemus[:1]
                    time.sleep(0.2)
                    break
            if moment == "started" and folders:
                record = folders[0] / "state.json"
                if record.exists() and json.loads(record.read_text()).get("pid"):
                    time.sleep(0.3)  # past the start line, into WAIT
                    break
            time.sleep(0.002)
        assert proc.poll() is None, f"CREATE ended before {moment}: {proc.communicate()}"
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=30)
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT) if pid in live_qemu_pids(runtime) else None
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


@pytest.mark.parametrize("moment", ["record", "monitor", "started"])
@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_interrupted_create_stops_its_qemu_or_leaves_it_managed(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str], signum: int, moment: str
) -> None:
    make_vm("ix")
    runtime = ctys_env["CTYS_RUNTIME_DIR"]
    code, err = _interrupt_create(ctys_env, "ix", signum, moment)
    assert code == 128 + signum, err
    assert "Traceback" not in err, err
    [line] = [ln for ln in err.splitlines() if ln.startswith("ctys: interrupted")]
    qemus = live_qemu_pids(runtime)
    if moment == "started":
        # The start completed: the VM stays, managed, and CANCEL stops it.
        assert "keeps running, managed" in line, err
        assert len(qemus) == 1
        done = ctys("-t", "QEMU", "-a", "CANCEL=l:ix,FORCE")
        assert done.returncode == 0, done.stderr
    else:
        if moment == "monitor":
            assert "stopped the qemu it had started (pid" in line, err
        assert qemus == [], (line, qemus)
        assert _folders(runtime, "ix") == []
        # The logs of the abandoned start were kept (at "record" the signal may come
        # before qemu was launched, and then there is no qemu.log to keep).
        if "stopped the qemu" in line:
            assert list(Path(ctys_env["XDG_STATE_HOME"], "ctys", "logs").glob("ix-*/qemu.log"))
    assert live_qemu_pids(runtime) == []
    assert _folders(runtime, "ix") == []
    # Nothing stale: the VM starts again (the start lock was released).
    again = ctys("-t", "QEMU", "-a", "CREATE=l:ix", "-b", "1")
    assert again.returncode == 0, again.stderr
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:ix,FORCE").returncode == 0
