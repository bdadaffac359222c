"""Time to a cloud-init guest: ``#@#CLOUDINIT = AUTO`` on the real guest's cloud variant.

Alternating, on a fresh overlay disk each time, under TCG:

- **base**: the real system guest (``realsystem.BASE``), ``CREATE`` → the first ``ssh root``
  with the key baked into the image (the baseline);
- **cloud**: the cloud variant (``realsystem.CLOUD``: cloud-init, no baked key) with
  ``#@#CLOUDINIT = AUTO``, a fresh ``#@#HOSTNAME`` and a fresh ``#@#SSHKEY``, ``CREATE`` →
  the first ``ssh debian`` with that key (it works once cloud-init has applied the seed)
  whose ``hostname`` is the seed's.

Also: the cloud variant's build time (its stamp) and ctys's seed build (xorriso), fresh
and cached. ``--quick``: only the seed builds, no boot (seconds). Every qemu it starts is
killed at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from benchlib import med
from ctys.plugins.qemu.boot.cloudinit import CloudInitSeed, seed_iso
from ctys.plugins.qemu.demo.realvm import free_port, ssh_argv, write_real_conf
from ctys.plugins.qemu.images.realsystem import BASE, CLOUD, RealGuestImage, build_real_guest

BOOT_TIMEOUT = 600.0
SSH_POLL = 0.5
console = Console()


def _ctys() -> list[str]:
    script = Path(sys.executable).parent / "ctys"
    return [str(script)] if script.exists() else [sys.executable, "-m", "ctys"]


def _ssh_until(argv: list[str], t0: float, want: str) -> float | None:
    """Seconds from ``t0`` until ``argv`` (an ssh command) prints ``want``; None on timeout."""
    while time.perf_counter() - t0 < BOOT_TIMEOUT:
        with contextlib.suppress(subprocess.TimeoutExpired):
            done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
            if done.returncode == 0 and done.stdout.strip() == want:
                return time.perf_counter() - t0
        time.sleep(SSH_POLL)
    return None


def boot(work: Path, image: RealGuestImage, kind: str, seq: int) -> float | None:
    """One CREATE of ``kind`` (base/cloud) in a fresh VM folder: seconds to its first ssh."""
    root = work / f"{kind}{seq}"
    env = {**os.environ, "CTYS_VMPATH": str(root / "vms"), "CTYS_RUNTIME_DIR": str(root / "rt"),
           "CTYS_INVENTORY": str(root / "inv.sqlite"), "XDG_CACHE_HOME": str(root / "cache"),
           "XDG_STATE_HOME": str(root / "state"), "CTYS_ACCEL": "tcg"}  # fmt: skip
    env.pop("DISPLAY", None)
    label, port = f"cb{kind}", free_port()
    conf = write_real_conf(root / "vms" / label, image, label, ssh_port=port, guest_agent=False)
    if kind == "cloud":
        host, key = f"cb-{uuid.uuid4().hex[:8]}", root / "id_test"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        with conf.open("a") as fh:
            fh.write(f"#@#CLOUDINIT = AUTO\n#@#HOSTNAME = {host}\n#@#SSHKEY = {key}.pub\n")
        argv = ssh_argv(image, port, "hostname")
        argv[argv.index(str(image.key))] = str(key)
        argv[argv.index("root@127.0.0.1")] = "debian@127.0.0.1"
    else:
        host, argv = "ctys-real", ssh_argv(image, port, "hostname")
    t0 = time.perf_counter()
    create = [*_ctys(), "-t", "QEMU", "-a", f"CREATE=l:{label},BOOTMODE:HDD", "-b", "1"]
    done = subprocess.run(create, capture_output=True, text=True, env=env, check=False)
    took = _ssh_until(argv, t0, host) if done.returncode == 0 else None
    cancel = [*_ctys(), "-t", "QEMU", "-a", f"CANCEL=l:{label},FORCE"]
    subprocess.run(cancel, capture_output=True, env=env, check=False)
    shutil.rmtree(root, ignore_errors=True)
    return took


def seed_builds(work: Path) -> tuple[float, float]:
    """Seconds to build an AUTO-sized seed with xorriso, and to find it cached."""
    seed = CloudInitSeed((("user-data", f"#cloud-config\nhostname: {uuid.uuid4()}\n".encode()),
                          ("meta-data", b"instance-id: bench\n")))  # fmt: skip
    t0 = time.perf_counter()
    seed_iso(seed, work / "seeds")
    t1 = time.perf_counter()
    seed_iso(seed, work / "seeds")
    return t1 - t0, time.perf_counter() - t1


def _row(table: Table, name: str, values: list[float], base: list[float] | None = None) -> None:
    mid, mb = med(values), med(base or [])
    ratio = f"{mid / mb:.2f}" if mid is not None and mb else "—"
    cells = [f"{v:.2f}" for v in (min(values), mid or 0.0, max(values))] if values else ["—"] * 3
    table.add_row(name, *cells, ratio, str(len(values)))


def _kill_ours(work: Path) -> None:
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if str(work) in " ".join(proc.info["cmdline"] or []):
                proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="boots of each kind (default 2)")
    parser.add_argument("--quick", action="store_true", help="seed builds only, no boot")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="ctys-cloudboot-"))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    console.print(f"[dim]load {load}; {os.cpu_count()} CPUs; work dir {work}")
    table = Table(title="cloud-init guest (Debian 12, TCG): seconds")
    for column in ("", "min", "median", "max", "ratio", "runs"):
        table.add_column(column, justify="right" if column else "left")
    try:
        fresh, cached = zip(*(seed_builds(work) for _ in range(1 if args.quick else 5)),
                            strict=True)  # fmt: skip
        _row(table, "seed ISO build (xorriso)", list(fresh))
        _row(table, "seed ISO, cached", list(cached))
        if not args.quick:
            images = {"base": build_real_guest(variant=BASE),
                      "cloud": build_real_guest(variant=CLOUD)}  # fmt: skip
            times: dict[str, list[float]] = {"base": [], "cloud": []}
            for seq in range(max(1, args.runs)):
                for kind in ("base", "cloud"):
                    took = boot(work, images[kind], kind, seq)
                    shown = "no ssh" if took is None else f"{took:.1f}s"
                    console.print(f"[dim]run {seq + 1} {kind}: {shown}")
                    if took is not None:
                        times[kind].append(took)
            _row(table, "base: CREATE -> ssh root (baked key)", times["base"])
            _row(table, "cloud: CREATE -> ssh debian (seed's key)", times["cloud"], times["base"])
            built = images["cloud"].build_seconds
            console.print(f"cloud variant build (its stamp): {built}s; base: "
                          f"{images['base'].build_seconds}s")  # fmt: skip
    except KeyboardInterrupt:
        console.print("[yellow]interrupted; stopping VMs")
        return 130
    finally:
        _kill_ours(work)
        shutil.rmtree(work, ignore_errors=True)
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
