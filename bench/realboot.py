"""Time to a usable real guest: ``bench/boot_overhead.py --real``.

The real system guest (Debian 12, systemd, sshd; ``ctys.plugins.qemu.images.realsystem``)
booted from its disk under TCG, by ``ctys -t QEMU -a CREATE=l:rb,BOOTMODE:HDD -b 1`` and by bare
``qemu-system-x86_64`` with the very argv ctys recorded (its runtime paths moved to a fresh
folder of the same shape). Each boot gets a fresh overlay disk on the cached image, so
every run boots the same first-boot guest. Timed from the launch of the process:

- the serial login prompt (``ctys-real login:`` in ``console.log``, polled every 100 ms);
- the first successful ``ssh root@127.0.0.1 -p PORT true`` through the HOSTFWD (tried
  every 250 ms, each try at most 2 s);
- the graceful stop: ctys ``CANCEL`` (ACPI; the conf has no guest agent, so both sides
  press the same button) versus QMP ``system_powerdown`` on the bare qemu, until it exits.

The variants alternate (ctys, bare, ctys, bare, ...) after one untimed warm-up boot.
Every qemu it starts is stopped again, also on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from benchlib import med
from ctys.plugins.qemu.demo.realvm import LOGIN_PROMPT, free_port, ssh_argv, write_real_conf
from ctys.plugins.qemu.images.realsystem import RealGuestImage, build_real_guest
from ctys.plugins.qemu.vm.qmp import QmpSession, QmpUnavailable

LABEL = "rb"
PROMPT_POLL = 0.1
SSH_POLL = 0.25
BOOT_TIMEOUT = 400.0
CANCEL_TIMEOUT = 120.0


@dataclass(frozen=True)
class RealBoot:
    """Seconds from launch to the login prompt, to the first ssh, and the graceful stop."""

    prompt: float | None
    ssh: float | None
    stop: float | None
    error: str = ""


def _ssh_ok(image: RealGuestImage, port: int) -> bool:
    argv = ssh_argv(image, port, "true")
    argv[argv.index("ConnectTimeout=5")] = "ConnectTimeout=2"
    with contextlib.suppress(subprocess.TimeoutExpired):
        done = subprocess.run(argv, capture_output=True, timeout=5, check=False)
        return done.returncode == 0
    return False


def _wait_usable(
    log_dir: Path,
    image: RealGuestImage,
    port: int,
    t0: float,
    alive: Callable[[], bool] | None,
) -> tuple[float | None, float | None, str]:
    """Poll for the login prompt, then for the first ssh; ``alive()`` says whether the
    launched process still runs (an error when it does not)."""
    prompt = None
    deadline = t0 + BOOT_TIMEOUT
    wanted = LOGIN_PROMPT.encode()
    while prompt is None:
        for log in log_dir.glob("*/console.log"):
            with contextlib.suppress(OSError):
                if wanted in log.read_bytes():
                    prompt = time.perf_counter() - t0
        if prompt is None:
            if time.perf_counter() > deadline:
                return None, None, f"no login prompt in {BOOT_TIMEOUT:g}s"
            if alive is not None and not alive():
                return None, None, "qemu ended before the login prompt"
            time.sleep(PROMPT_POLL)
    while not _ssh_ok(image, port):
        if time.perf_counter() > deadline:
            return prompt, None, f"no ssh in {BOOT_TIMEOUT:g}s"
        time.sleep(SSH_POLL)
    return prompt, time.perf_counter() - t0, ""


class RealBench:
    """The work dir (VM folder, runtime dirs) of the real-guest measurements."""

    def __init__(self, work: Path, ctys: list[str], env: dict[str, str]) -> None:
        self.work = work
        self.ctys = ctys
        self.base_env = env
        self.image = build_real_guest(log=print)
        self.port = free_port()
        self.folder = work / "vms" / LABEL
        self.template: list[str] = []
        self.old_vmdir = ""
        self._seq = 0

    def env(self, runtime: Path) -> dict[str, str]:
        return {
            **self.base_env,
            "CTYS_VMPATH": str(self.work / "vms"),
            "CTYS_RUNTIME_DIR": str(runtime),
            "CTYS_INVENTORY": str(self.work / "inventory.sqlite"),
            "XDG_STATE_HOME": str(self.work / "state"),
            "CTYS_ACCEL": "tcg",
        }

    def _fresh(self, kind: str) -> Path:
        """A fresh overlay disk (same path: the argv stays the same) and runtime dir."""
        (self.folder / f"{LABEL}.qcow2").unlink(missing_ok=True)
        write_real_conf(self.folder, self.image, LABEL, ssh_port=self.port, guest_agent=False)
        self._seq += 1
        runtime = self.work / f"rt-{kind}-{self._seq}"
        runtime.mkdir(mode=0o700)
        return runtime

    def boot_ctys(self) -> RealBoot:
        runtime = self._fresh("ctys")
        env = self.env(runtime)
        argv = [*self.ctys, "-t", "QEMU", "-a", f"CREATE=l:{LABEL},BOOTMODE:HDD", "-b", "1"]
        t0 = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            return RealBoot(None, None, None, f"CREATE failed: {done.stderr.strip()}")
        if not self.template:
            [state] = (runtime / "vms").glob("*/state.json")
            self.template = json.loads(state.read_text())["argv"]
            self.old_vmdir = str(state.parent)
        prompt, ssh, error = _wait_usable(runtime / "vms", self.image, self.port, t0, None)
        t1 = time.perf_counter()
        cancel = [*self.ctys, "-t", "QEMU", "-a", f"CANCEL=l:{LABEL},TIMEOUT:{CANCEL_TIMEOUT:g}"]
        stopped = subprocess.run(cancel, capture_output=True, text=True, env=env, check=False)
        stop = time.perf_counter() - t1
        if "ACPI" not in stopped.stdout:
            error = error or f"CANCEL: {stopped.stdout.strip()} {stopped.stderr.strip()}"
            force = [*self.ctys, "-t", "QEMU", "-a", f"CANCEL=l:{LABEL},FORCE"]
            subprocess.run(force, capture_output=True, env=env, check=False)
            stop = None
        return RealBoot(prompt, ssh, stop, error)

    def boot_bare(self) -> RealBoot:
        runtime = self._fresh("bare")
        vmdir = runtime / "vms" / Path(self.old_vmdir).name
        vmdir.mkdir(mode=0o700, parents=True)
        argv = [arg.replace(self.old_vmdir, str(vmdir)) for arg in self.template]
        with (vmdir / "qemu.log").open("wb") as sink:
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            prompt, ssh, error = _wait_usable(
                runtime / "vms", self.image, self.port, t0, lambda: proc.poll() is None
            )
            t1 = time.perf_counter()
            stop = None
            with contextlib.suppress(QmpUnavailable), QmpSession(vmdir / "qmp.sock") as qmp:
                qmp.execute("system_powerdown")
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=CANCEL_TIMEOUT)
                stop = time.perf_counter() - t1
            return RealBoot(prompt, ssh, stop, error)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def real_table(ctys: list[RealBoot], bare: list[RealBoot]) -> Table:
    """Medians in seconds and the ctys/bare ratio of each."""
    table = Table(title="Time to a usable real guest (Debian 12, TCG), median seconds")
    for column in ("", "ctys", "bare qemu", "ratio", "runs"):
        table.add_column(column, justify="right" if column else "left")
    for name, attr in (
        ("CREATE -> login prompt", "prompt"),
        ("CREATE -> first ssh", "ssh"),
        ("graceful stop (ACPI) -> exit", "stop"),
    ):
        a = [v for b in ctys if (v := getattr(b, attr)) is not None]
        b_ = [v for b in bare if (v := getattr(b, attr)) is not None]
        ma, mb = med(a), med(b_)
        ratio = f"{ma / mb:.2f}" if ma is not None and mb else "—"
        table.add_row(name, _cell(ma), _cell(mb), ratio, f"{len(a)}/{len(b_)}")
    return table


def run_real(work: Path, ctys: list[str], env: dict[str, str], runs: int, out: Console) -> bool:
    """The measurements; prints progress and the table on ``out``. True when every boot
    reached ssh."""
    bench = RealBench(work, ctys, env)
    warm = bench.boot_ctys()  # fills the page cache and records the argv
    print_ = out.print
    if warm.error or not bench.template:
        print_(f"[red]warm-up CREATE failed: {escape(warm.error or 'no argv')}")
        return False
    print_(f"[dim]qemu argv: {escape(' '.join(bench.template))}", soft_wrap=True)
    ctys_boots: list[RealBoot] = []
    bare_boots: list[RealBoot] = []
    for i in range(runs):
        ctys_boots.append(bench.boot_ctys())
        bare_boots.append(bench.boot_bare())
        for kind, boot in (("ctys", ctys_boots[-1]), ("bare", bare_boots[-1])):
            print_(
                f"[dim]run {i + 1}/{runs} {kind}: prompt {_cell(boot.prompt)}s, ssh"
                f" {_cell(boot.ssh)}s, stop {_cell(boot.stop)}s {escape(boot.error)}"
            )
    print_(real_table(ctys_boots, bare_boots))
    return all(b.ssh is not None for b in ctys_boots + bare_boots)
