"""qemu's image-lock failure becomes one line naming the VM that holds the disk."""

from __future__ import annotations

import os
from pathlib import Path

from ctys.errors import VmError
from ctys.plugins.qemu.vm.imagelock import argv_images, image_holder, lock_conflict, locked_image
from ctys.plugins.qemu.vm.runtime import RuntimeDir, RuntimeRecord

QEMU_LOG = (
    "qemu-system-x86_64: -drive file=/v/d.qcow2,index=0,media=disk,format=qcow2: Failed to get"
    ' "write" lock\nIs another process using the image [/v/d.qcow2]?\n'
)


def test_locked_image_from_qemus_log() -> None:
    assert locked_image(QEMU_LOG) == Path("/v/d.qcow2")
    assert locked_image("qemu-system-x86_64: -drive file=/x: No such file\n") is None


def test_images_of_an_argv() -> None:
    argv = ["qemu", "-drive", "file=/a,,b.img,if=virtio", "-hdb", "/c.img", "-m", "256",
            "-blockdev", "driver=file,filename=/d.raw,node-name=n"]  # fmt: skip
    assert argv_images(argv) == [Path("/a,b.img"), Path("/c.img"), Path("/d.raw")]


def holder_runtime(tmp_path: Path, disk: Path) -> RuntimeDir:
    runtime = RuntimeDir(tmp_path / "rt")
    vmdir = runtime.create_vm_dir("other-12345678")
    argv = ["qemu", "-drive", f"file={disk},index=0"]
    record = RuntimeRecord("other-12345678", "other", "/v/other.conf", pid=os.getpid(), argv=argv)
    vmdir.write_record(record)
    return runtime


def test_holder_is_the_managed_vm_using_the_disk(tmp_path: Path) -> None:
    disk = tmp_path / "d.qcow2"
    disk.write_bytes(b"")
    runtime = holder_runtime(tmp_path, disk)
    assert image_holder(disk, runtime) == f"VM other (pid {os.getpid()})"
    assert image_holder(tmp_path / "unused.img", runtime) == "another process"


def test_lock_conflict_is_one_line_naming_the_holder(tmp_path: Path) -> None:
    disk = tmp_path / "d.qcow2"
    disk.write_bytes(b"")
    runtime = holder_runtime(tmp_path, disk)
    mine = runtime.create_vm_dir("me-87654321")
    mine.qemu_log.write_text(QEMU_LOG.replace("/v/d.qcow2", str(disk)))
    err = lock_conflict(VmError("qemu failed to start: Is another ..."), mine, runtime)
    assert str(err) == (
        f"disk image {disk} is in use by VM other (pid {os.getpid()}): qemu cannot lock it"
        " for this VM (stop the other VM first, or give this one its own disk)"
    )


def test_other_start_failures_pass_unchanged(tmp_path: Path) -> None:
    runtime = RuntimeDir(tmp_path / "rt")
    mine = runtime.create_vm_dir("me-87654321")
    mine.qemu_log.write_text("qemu-system-x86_64: -m 99999999: ram size too large\n")
    original = VmError("qemu failed to start: ram size too large")
    assert lock_conflict(original, mine, runtime) is original
