"""QEMU's image lock, told in one line: which VM holds the disk another start wanted.

qemu locks every image it opens writable; a second qemu on the same image fails with
``Failed to get "write" lock`` / ``Is another process using the image [PATH]?``. The
holder is looked up among the VMs ctys runs (their runtime records' argv), then among
all qemu processes of the host, so the message can name it.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterable
from pathlib import Path

from ctys.errors import VmError
from ctys.plugins.qemu.vm.lifecycle import process_alive
from ctys.plugins.qemu.vm.runtime import RuntimeDir, VmRuntimeDir

_LOCKED = re.compile(r'Failed to get "(?:write|shared|consistent read)" lock')
_IMAGE = re.compile(r"Is another process using the image \[(?P<path>[^\]\n]+)\]\?")
# A file= value inside a -drive/-blockdev option, its ",," escapes undone.
_FILE = re.compile(r"(?:^|,)(?:file|file\.filename|filename)=((?:[^,]|,,)+)")


def locked_image(log_text: str) -> Path | None:
    """The image qemu could not lock, from its log; ``None`` when that was not the error."""
    if _LOCKED.search(log_text) is None:
        return None
    match = _IMAGE.search(log_text)
    return Path(match["path"]) if match else None


def _same(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        return a.samefile(b)
    return a.absolute() == b.absolute()


def argv_images(argv: Iterable[str]) -> list[Path]:
    """The image files a qemu command line opens (``-drive file=``, ``-hda PATH``, ...)."""
    found: list[Path] = []
    for option, value in itertools.pairwise(argv):
        name = option.lstrip("-")
        if name in ("drive", "blockdev"):
            found += [Path(m.group(1).replace(",,", ",")) for m in _FILE.finditer(value)]
        elif name in ("hda", "hdb", "hdc", "hdd", "cdrom", "fda", "fdb"):
            found.append(Path(value))
    return found


def find_holder(image: Path, runtime: RuntimeDir, skip: VmRuntimeDir | None = None) -> str | None:
    """Which qemu has ``image`` open: ``VM LABEL (pid N)`` (a VM ctys runs), ``a qemu not
    managed by ctys (pid N)``; ``None`` when none does."""
    for vmdir in runtime.all_vms():
        if skip is not None and vmdir.path == skip.path:
            continue
        record = vmdir.read_record()
        if record is None or record.pid is None or not process_alive(record.pid):
            continue
        if any(_same(image, used) for used in argv_images(record.argv)):
            return f"VM {record.label} (pid {record.pid})"
    from ctys.plugins.qemu.vm.processes import scan_qemu_processes

    for process in scan_qemu_processes():
        if any(_same(image, used) for used in argv_images(process.cmdline.argv)):
            return f"a qemu not managed by ctys (pid {process.pid})"
    return None


def image_holder(image: Path, runtime: RuntimeDir, skip: VmRuntimeDir | None = None) -> str:
    """Who holds ``image`` (``find_holder``), else ``another process``."""
    return find_holder(image, runtime, skip) or "another process"


def lock_conflict(exc: VmError, rundir: VmRuntimeDir, runtime: RuntimeDir) -> VmError:
    """``exc`` (a failed start) as one line naming the holder when qemu could not lock an
    image; ``exc`` itself otherwise."""
    try:
        log = rundir.qemu_log.read_text(errors="replace")
    except OSError:
        return exc
    image = locked_image(log)
    if image is None:
        return exc
    holder = image_holder(image, runtime, skip=rundir)
    return VmError(
        f"disk image {image} is in use by {holder}: qemu cannot lock it for this VM"
        " (stop the other VM first, or give this one its own disk)"
    )
