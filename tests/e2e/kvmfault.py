"""A VM that KVM cannot run: its firmware drives the vCPU into QEMU's internal-error state.

The 64 KiB "BIOS" waits for the RTC's seconds to change twice (1-2 s, whatever the CPU
speed, so the VM is past CREATE's start check), then stores an x87 value into its own ROM.
Under KVM the write to read-only memory must be emulated, and KVM's emulator has no x87:
"KVM internal error. Suberror: 1 / emulation failure", run state internal-error. Under TCG
the write is ignored and the firmware halts: the VM runs (the TCG fallback works).
Also: seeding the KVM verdict "usable" (what the firmware probe says on hosts where this
goes wrong), so AUTO and pinned KVM put the VM on KVM.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ctys.plugins.qemu.host.capcache import BinaryStamp, CapCache
from ctys.plugins.qemu.host.detect import _kvm_probe_binary, detect_binaries
from ctys.plugins.qemu.host.kvmprobe import FIRMWARE_PROBE, boot_id

_READ_SECONDS = bytes.fromhex("b000 e670 e471")  # mov al,0; out 0x70,al; in al,0x71
_WAIT_CHANGE = _READ_SECONDS + bytes.fromhex("38d8 74f6 88c3")  # cmp al,bl; je back; mov bl,al
_CODE = (
    _READ_SECONDS
    + bytes.fromhex("88c3")  # mov bl,al
    + _WAIT_CHANGE * 2
    + bytes.fromhex("dbe3 d9ee 2ed91e0001")  # fninit; fldz; fstp dword [cs:0x100] (ROM)
    + bytes.fromhex("f4 ebfd")  # hlt; jmp back to hlt
)


def write_fault_bios(path: Path) -> Path:
    """Write the firmware: code at F000:0000, the reset vector jumps to it."""
    image = bytearray(b"\xf4" * 65536)
    image[: len(_CODE)] = _CODE
    image[0xFFF0:0xFFF5] = bytes.fromhex("ea000000f0")  # jmp far f000:0000
    path.write_bytes(bytes(image))
    return path


def fault_conf(conf: Path, bios: Path, accelerator: str) -> None:
    """Turn a demo conf into one booting the faulting firmware on ``accelerator``."""
    text = conf.read_text().replace("#@#ACCELERATOR = TCG", f"#@#ACCELERATOR = {accelerator}")
    conf.write_text(text + f"ARGS='-bios {bios}'\n")


def require_kvm() -> None:
    """Skip the test when this host has no usable /dev/kvm."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        pytest.skip("/dev/kvm is missing or not usable by this user")


def seed_kvm_usable() -> None:
    """Store the verdict the firmware probe gives on hosts where guests still fail:
    "usable", not yet confirmed by a guest (for the current boot and $XDG_CACHE_HOME)."""
    cache = CapCache()
    probe = _kvm_probe_binary(detect_binaries(cache=cache))
    assert probe is not None, "no qemu binary that lists KVM"
    payload = {
        "usable": True,
        "reason": "KVM works (probe guest finished firmware POST in 0.20s)",
        "probe": FIRMWARE_PROBE,
        "when": time.time(),
        "confirmed": False,
    }
    cache.put("kvm", BinaryStamp.of(probe.path), payload, boot_id=boot_id())
    cache.save()
