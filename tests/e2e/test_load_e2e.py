"""Load: 20 VMs created concurrently, then cancelled concurrently, three rounds; after each
round nothing of ours is left — no qemu, no runtime folder, no socket file, no listening
VNC port — and every count is asserted to be zero."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from support.cli import Ctys
from support.procs import live_qemus
from support.rows import labels as labels_of
from support.rows import list_rows

VMS = 20
ROUNDS = 3


def _our_qemus(runtime: str) -> dict[int, list[str]]:
    return {proc.pid: proc.info["cmdline"] for proc in live_qemus(runtime)}


def _listening(ports: set[int], pids: set[int]) -> list[str]:
    """Listening TCP sockets on ``ports`` (ours) or owned by ``pids``."""
    leaks = []
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status != psutil.CONN_LISTEN:
            continue
        if (
            conn.laddr.port in ports and (conn.pid in pids or conn.pid is None)
        ) or conn.pid in pids:
            leaks.append(f"{conn.laddr.ip}:{conn.laddr.port} pid {conn.pid}")
    return leaks


def _leaks(runtime: Path, ports: set[int], pids: set[int]) -> dict[str, list[str]]:
    vms = runtime / "vms"
    return {
        "qemu processes": [str(p) for p in _our_qemus(str(runtime))]
        + [str(p) for p in pids if psutil.pid_exists(p) and _alive(p)],
        "runtime folders": [str(p) for p in vms.iterdir()] if vms.is_dir() else [],
        "socket files": [str(p) for p in runtime.rglob("*.sock")],
        "listening ports": _listening(ports, pids),
    }


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.timeout(400)
def test_twenty_vms_created_and_cancelled_concurrently_three_rounds(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str]
) -> None:
    labels = [f"ld{i:02d}" for i in range(VMS)]
    for label in labels:
        conf = make_vm(label)
        conf.write_text(conf.read_text().replace("#@#MEMSIZE = 256", "#@#MEMSIZE = 128"))
    runtime = Path(ctys_env["CTYS_RUNTIME_DIR"])
    cycled = 0
    # Round 1 boots the guests (all 20 compete for 2 CPUs under TCG); rounds 2 and 3 keep
    # them paused before the first instruction (-S), so the load is ctys's own concurrency:
    # 20 starts, 20 monitors, 20 VNC ports, 20 stops at once.
    rounds = [("", "FORCE"), (",ARGSADD:-S", "POWEROFF,TIMEOUT:2"), (",ARGSADD:-S", "FORCE")]
    started_at = time.monotonic()
    for round_no, (extra, mode) in enumerate(rounds):
        with ThreadPoolExecutor(VMS) as pool:
            created = list(
                pool.map(
                    lambda lb, x=extra: ctys("-t", "QEMU", "-a", f"CREATE=l:{lb}{x}", "-b", "1"),
                    labels,
                )
            )
        print(f"round {round_no}: created at {time.monotonic() - started_at:.0f}s", flush=True)
        assert [c.returncode for c in created] == [0] * VMS, [c.stderr for c in created]

        ours = list_rows(ctys, runtime)
        assert labels_of(ours) == labels
        assert all(r["MANAGED"] is True for r in ours)
        pids = {int(r["PID"]) for r in ours}
        # One qemu and one private VNC socket per VM; no TCP port at all.
        vncs = {str(r["VNC"]) for r in ours}
        assert len(pids) == VMS and len(vncs) == VMS
        assert all(v.startswith(f"unix:{runtime}/") for v in vncs), vncs
        ports: set[int] = set()  # _leaks also finds any TCP port these pids listen on
        assert set(_our_qemus(str(runtime))) == pids

        with ThreadPoolExecutor(VMS) as pool:
            cancelled = list(
                pool.map(
                    lambda lb, m=mode: ctys("-t", "QEMU", "-a", f"CANCEL=l:{lb},{m}", timeout=120),
                    labels,
                )
            )
        print(f"round {round_no}: cancelled at {time.monotonic() - started_at:.0f}s", flush=True)
        assert [c.returncode for c in cancelled] == [0] * VMS, [c.stderr for c in cancelled]
        cycled += VMS

        # Ports close as the qemus exit; give the kernel a moment to drop the sockets.
        deadline = time.monotonic() + 5
        while any(_leaks(runtime, ports, pids).values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        leaks = _leaks(runtime, ports, pids)
        assert {k: len(v) for k, v in leaks.items()} == dict.fromkeys(leaks, 0), leaks
        assert list_rows(ctys, runtime) == []
    assert cycled == VMS * ROUNDS
    print(f"VMs cycled: {cycled} in {time.monotonic() - started_at:.0f}s, leaks: 0")
