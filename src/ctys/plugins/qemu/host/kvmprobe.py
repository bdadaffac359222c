"""Decide whether KVM really works on this host, and pick the accelerator for a VM.

``/dev/kvm`` being there is not enough: on nested/emulated KVM (our build machines run
inside a micro-VM) guests start but run so slowly that they stall, then die with
"KVM internal error". So the probe boots a throw-away guest (no disks, the default
SeaBIOS firmware) under KVM and, side by side, under TCG. SeaBIOS logs its POST to the
debug port 0x402; on working KVM it reaches "No bootable device" in well under a second,
so a KVM guest that is still in POST when TCG has long finished means KVM is not worth
using. The guest's run state (QMP ``query-status``) and qemu's stderr catch guests that
enter QEMU's ``internal-error`` state or fail to initialise KVM.
The verdict is cached per binary (path + mtime + size) and kernel boot, with how it was
reached. The firmware probe cannot see a guest that dies only once its kernel runs: when
it passes, a 64-bit Linux kernel is booted under KVM as well
(``ctys.plugins.qemu.host.kernelprobe``), and CREATE also watches the first seconds of the
first AUTO guest it puts on KVM in a boot (``ctys.plugins.qemu.actions.kvmwatch``) and
stores what it saw here (``remember_guest_verdict``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctys.errors import VmError
from ctys.plugins.qemu.host.capcache import BinaryStamp, CapCache
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vmconfig import Accelerator

DEV_KVM = Path("/dev/kvm")
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
PROBE_DEADLINE = 1.5  # seconds the probe guests may run
QMP_TIMEOUT = 1.0
POST_DONE_MARKER = b"No bootable device"  # SeaBIOS's last line when nothing boots
_POLL = 0.02


FIRMWARE_PROBE = "firmware-POST probe"
KERNEL_PROBE = "64-bit kernel probe"
GUEST_WATCH = "watch of a KVM guest's first seconds"


@dataclass(frozen=True)
class KvmState:
    """Whether VMs on this host should use KVM, and the one-line reason why (not).

    ``how`` says how the verdict was reached (which probe, when, cached or fresh);
    ``binary`` is the qemu it holds for (its cache key); ``confirmed`` is set once a real
    KVM guest survived its first seconds in this boot of the host (no more watching)."""

    usable: bool
    reason: str
    how: str = ""
    binary: str = ""
    confirmed: bool = False


@dataclass(frozen=True)
class ProbeObservation:
    """What the probe guests did; ``judge_probe`` turns it into a verdict."""

    kvm_returncode: int | None  # None: still running when the probe ended
    kvm_stderr: str
    kvm_status: str | None  # QMP query-status "status", None when it could not be asked
    kvm_post_seconds: float | None  # when SeaBIOS finished POST under KVM, None: not seen
    tcg_post_seconds: float | None  # the same under TCG (the speed baseline)
    deadline: float


def boot_id() -> str:
    """The kernel's boot id: a KVM verdict only holds until the next reboot."""
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return "unknown"


def check_dev_kvm(device: Path = DEV_KVM) -> KvmState | None:
    """A ``KvmState`` saying why KVM cannot work when ``device`` is missing or cannot be
    opened read-write by us; None when it can (the real probe must still decide)."""
    if not device.exists():
        return KvmState(False, f"{device} does not exist (no KVM kernel module or no VT-x/AMD-V)")
    try:
        fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return KvmState(False, f"cannot open {device} read-write: {exc.strerror}")
    os.close(fd)
    return None


def _first_line_with(text: str, *needles: str) -> str | None:
    for line in text.splitlines():
        if any(needle.lower() in line.lower() for needle in needles):
            return line.strip()
    return None


def judge_probe(seen: ProbeObservation) -> KvmState:
    """Turn what the probe guests did into a verdict (pure; order of checks matters)."""
    internal = _first_line_with(seen.kvm_stderr, "KVM internal error")
    if internal is not None or seen.kvm_status == "internal-error":
        return KvmState(False, f"KVM internal error in the probe guest ({internal or 'QMP'})")
    if seen.kvm_returncode is not None:
        failure = _first_line_with(seen.kvm_stderr, "kvm", "error")
        detail = failure or f"exit {seen.kvm_returncode}, no message"
        return KvmState(False, f"qemu could not run a KVM guest: {detail}")
    if seen.kvm_post_seconds is not None:
        return KvmState(
            True, f"KVM works (probe guest finished firmware POST in {seen.kvm_post_seconds:.2f}s)"
        )
    if seen.tcg_post_seconds is not None:
        return KvmState(
            False,
            f"KVM guests run slower than TCG emulation (firmware POST unfinished after "
            f"{seen.deadline:g}s under KVM, {seen.tcg_post_seconds:.2f}s under TCG): nested or "
            f"emulated KVM, whose guests stall and hit 'KVM internal error'",
        )
    if seen.kvm_status == "running":
        # No POST log from either guest (firmware without debug port, or a crawling host):
        # the run state is all we have.
        return KvmState(True, "KVM guest running (firmware progress not measurable)")
    if seen.kvm_status is None:
        return KvmState(False, "KVM probe guest did not answer on QMP")
    return KvmState(False, f"KVM probe guest is in state {seen.kvm_status!r}")


@dataclass(frozen=True)
class ProbeVm:
    """A running probe guest and the files it writes."""

    process: subprocess.Popen[bytes]
    post_log: Path
    stderr: Path

    def post_done(self) -> bool:
        try:
            return POST_DONE_MARKER in self.post_log.read_bytes()
        except OSError:
            return False

    def stderr_text(self) -> str:
        try:
            return self.stderr.read_text(errors="replace")
        except OSError:
            return ""


@contextlib.contextmanager
def _probe_guest(binary: Path, accel: str, workdir: Path, qmp: Path | None) -> Iterator[ProbeVm]:
    """Start a disk-less guest; kill and reap it however the block is left."""
    workdir.mkdir()
    argv = [
        str(binary),
        *("-accel", accel, "-machine", "q35", "-m", "64", "-display", "none"),
        *("-nodefaults", "-no-reboot", "-no-user-config"),
        *("-chardev", f"file,id=post,path={workdir / 'post.log'}"),
        *("-device", "isa-debugcon,iobase=0x402,chardev=post"),
    ]
    if qmp is not None:
        argv += ["-qmp", f"unix:{qmp},server=on,wait=off"]
    stderr_path = workdir / "stderr"
    with probe_process(argv, stderr_path) as process:
        yield ProbeVm(process, workdir / "post.log", stderr_path)


@contextlib.contextmanager
def probe_process(argv: list[str], stderr_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a probe qemu with its stderr in ``stderr_path``; kill and reap it however the
    block is left."""
    with stderr_path.open("wb") as stderr:
        try:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
            )
        except OSError as exc:
            raise VmError(f"cannot run {argv[0]}: {exc.strerror}") from exc
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def probe_status(vm: VmHandle, timeout: float) -> str | None:
    """The run state of a probe guest, asked on its handle's QMP connection; None when
    the monitor does not answer."""
    state = vm.status(timeout=timeout)
    return state.value if state is not None else None


def probe_kvm(binary: Path, deadline: float = PROBE_DEADLINE, baseline: bool = True) -> KvmState:
    """Boot probe guests with ``binary`` (KVM, plus TCG as a speed baseline when
    ``baseline``) for at most ``deadline`` seconds and judge KVM. No cache, no /dev/kvm
    check; both guests are always killed."""
    with tempfile.TemporaryDirectory(prefix="ctys-kvmprobe-") as tmp:
        root = Path(tmp)
        qmp = root / "qmp.sock"
        with contextlib.ExitStack() as stack:
            started = time.monotonic()
            kvm = stack.enter_context(_probe_guest(binary, "kvm", root / "kvm", qmp))
            tcg = (
                stack.enter_context(_probe_guest(binary, "tcg", root / "tcg", None))
                if (baseline)
                else None
            )
            kvm_post: float | None = None
            tcg_post: float | None = None
            while time.monotonic() - started < deadline and kvm.process.poll() is None:
                elapsed = time.monotonic() - started
                if tcg is not None and tcg_post is None and tcg.post_done():
                    tcg_post = elapsed
                if kvm.post_done():
                    kvm_post = elapsed
                    break
                time.sleep(_POLL)
            status = None
            if kvm.process.poll() is None:
                with VmHandle(kvm.process.pid, qmp) as vm:
                    status = probe_status(vm, QMP_TIMEOUT)
            if tcg is not None and tcg_post is None and tcg.post_done():
                tcg_post = time.monotonic() - started
            returncode = kvm.process.poll()
            if returncode is None:
                kvm.process.kill()
                kvm.process.wait(timeout=5)
            observation = ProbeObservation(
                kvm_returncode=returncode,
                kvm_stderr=kvm.stderr_text(),
                kvm_status=status,
                kvm_post_seconds=kvm_post,
                tcg_post_seconds=tcg_post,
                deadline=deadline,
            )
    return judge_probe(observation)


def kvm_state(
    binary: Path | None, cache: CapCache | None = None, refresh: bool = False
) -> KvmState:
    """Is KVM usable for guests of ``binary`` (the host-arch qemu)? Honours
    ``CTYS_ACCEL=tcg``, checks /dev/kvm, then probes (verdict cached per binary and boot)."""
    if os.environ.get("CTYS_ACCEL", "").strip().lower() == "tcg":
        return KvmState(False, "KVM disabled by the user (CTYS_ACCEL=tcg)")
    if binary is None:
        return KvmState(False, "no QEMU binary for this host's arch that supports KVM")
    device_problem = check_dev_kvm()
    if device_problem is not None:
        return device_problem
    try:
        stamp = BinaryStamp.of(binary)
    except OSError as exc:
        return KvmState(False, f"cannot read {binary}: {exc.strerror}")
    cache = cache if cache is not None else CapCache()
    boot = boot_id()
    if not refresh:
        payload = cache.get("kvm", stamp, boot_id=boot)
        if payload is not None and isinstance(payload.get("usable"), bool):
            return _from_payload(payload, str(binary), "cached for this boot of the host")
    state, probe = probe_kvm(binary), FIRMWARE_PROBE
    if state.usable:
        state, probe = _kernel_stage(binary, state)
    payload = _payload(state.usable, state.reason, probe)
    cache.put("kvm", stamp, payload, boot_id=boot)
    cache.save()
    return _from_payload(payload, str(binary), "fresh")


def _kernel_stage(binary: Path, firmware: KvmState) -> tuple[KvmState, str]:
    """After firmware passed: boot a 64-bit kernel under KVM
    (``ctys.plugins.qemu.host.kernelprobe``) and return the verdict with the name of the probe
    that reached it."""
    from ctys.plugins.qemu.host.kernelprobe import judge_kernel, probe_kernel, probe_kernel_image

    kernel = probe_kernel_image()
    if kernel is None:
        return firmware, f"{FIRMWARE_PROBE} (no kernel to run the {KERNEL_PROBE})"
    try:
        usable, why = judge_kernel(probe_kernel(binary, kernel))
    except VmError as exc:
        return firmware, f"{FIRMWARE_PROBE} ({KERNEL_PROBE} failed: {exc})"
    if usable is None:
        return firmware, f"{FIRMWARE_PROBE} ({KERNEL_PROBE}: {why})"
    if not usable:
        return KvmState(False, why), KERNEL_PROBE
    return KvmState(True, f"{firmware.reason}; {why}"), f"{FIRMWARE_PROBE} + {KERNEL_PROBE}"


def _payload(usable: bool, reason: str, probe: str, confirmed: bool = False) -> dict[str, object]:
    return {
        "usable": usable,
        "reason": reason,
        "probe": probe,
        "when": time.time(),
        "confirmed": confirmed,
    }


def _from_payload(payload: dict[str, Any], binary: str, freshness: str) -> KvmState:
    probe = str(payload.get("probe") or FIRMWARE_PROBE)
    when = payload.get("when")
    stamp = (
        time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(when))
        if isinstance(when, (int, float))
        else "at an unknown time"
    )
    return KvmState(
        usable=bool(payload["usable"]),
        reason=str(payload.get("reason", "")),
        how=f"{probe}, {stamp}, {freshness}",
        binary=binary,
        confirmed=payload.get("confirmed") is True,
    )


def remember_guest_verdict(
    state: KvmState, usable: bool, reason: str, cache: CapCache | None = None
) -> None:
    """Store what a real KVM guest showed (it survived its first seconds, or it entered
    internal-error) as this boot's verdict for ``state.binary``; later CREATEs of AUTO VMs
    follow it without watching or probing again."""
    if not state.binary:
        return
    try:
        stamp = BinaryStamp.of(Path(state.binary))
    except OSError:
        return
    cache = cache if cache is not None else CapCache()
    probe = f"{FIRMWARE_PROBE}, then the {GUEST_WATCH}" if usable else GUEST_WATCH
    cache.put("kvm", stamp, _payload(usable, reason, probe, confirmed=True), boot_id=boot_id())
    cache.save()


def choose_accelerator(requested: Accelerator, kvm: KvmState) -> tuple[Accelerator, str]:
    """The accelerator a VM gets, and a note saying why.

    AUTO takes KVM when usable, else TCG (the note tells why KVM was passed over); an
    explicit KVM on a host where it does not work is an error carrying the reason.
    """
    if requested is Accelerator.TCG:
        return Accelerator.TCG, "TCG requested"
    if requested is Accelerator.KVM:
        if not kvm.usable:
            raise VmError(f"KVM requested but not usable: {kvm.reason}")
        return Accelerator.KVM, "KVM requested"
    if kvm.usable:
        return Accelerator.KVM, f"KVM ({kvm.reason})"
    return Accelerator.TCG, f"TCG, because KVM is not usable: {kvm.reason}"
