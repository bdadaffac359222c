"""Create a new VM folder: ``BASE/LABEL/LABEL.conf`` plus its disk image (qemu-img).

The folder is built in a temp folder beside the target and renamed into place only when
everything (conf and image) is there, so a failure — qemu-img missing or failing, a full
disk, Ctrl-C — leaves no half-made VM. An existing VM folder is refused unless ``force``;
with ``force`` the conf and image are replaced (each by a rename), other files stay.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import secrets
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ctys.errors import CtysError
from ctys.plugins.qemu.boot.instmode import create_image
from ctys.plugins.qemu.confs.reader import qemu_base_paths
from ctys.plugins.qemu.newconf.layout import Layout, render_wrapper
from ctys.plugins.qemu.newconf.writer import ConfAnswers, render_conf
from ctys.plugins.qemu.vmconfig import Accelerator

_LABEL = re.compile(r"[A-Za-z0-9_.-]+")
_MAC = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}")
MAX_VCPU = 4096
# Far below NAME_MAX (255 bytes) for LABEL.conf, LABEL.qcow2 and the ".LABEL.new-*" build.
MAX_LABEL = 128


class DiskFormat(Enum):
    """Image formats ``ctys-createConfVM`` makes; the file suffix tells ctys the format."""

    QCOW2 = "qcow2"
    RAW = "raw"
    VMDK = "vmdk"
    VDI = "vdi"
    VHDX = "vhdx"

    @property
    def suffix(self) -> str:
        # '.img' is what the argv builder reads as raw.
        return ".img" if self is DiskFormat.RAW else f".{self.value}"


@dataclass(frozen=True)
class NewVmRequest:
    """The answers for one new VM. ``disk_size`` in bytes (0: no disk)."""

    base: Path
    label: str
    memsize_mb: int = 512
    vcpu: int = 1
    disk_size: int = 8 * 1024**3
    disk_size_text: str = "8G"  # as the user wrote it, kept in the conf (#@#HDDSIZE)
    disk_format: DiskFormat = DiskFormat.QCOW2
    accelerator: Accelerator = Accelerator.AUTO
    iso: Path | None = None
    kernel: Path | None = None
    initrd: Path | None = None
    append: str | None = None
    os: str | None = None
    dist: str | None = None
    mac: str | None = None  # None: a fresh random one
    uuid: str | None = None  # None: a fresh uuid4
    ip: str | None = None
    force: bool = False
    layout: Layout = Layout.CTYS
    directory: Path | None = None  # the VM folder itself (-D); None: base/label
    make_image: bool = True  # False (--no-create-image): the conf names the disk, none made
    extra_keys: tuple[tuple[str, str], ...] = ()  # more #@# keys (the original's presets)
    extra_vars: tuple[tuple[str, str], ...] = ()  # more variables (the original's presets)


@dataclass(frozen=True)
class NewVm:
    """What was created."""

    label: str
    directory: Path
    conf: Path
    disk: Path | None
    uuid: str
    mac: str
    wrapper: Path | None = None


def random_mac() -> str:
    """A random MAC in QEMU's locally administered unicast range ``52:54:00:xx:xx:xx``."""
    tail = secrets.token_bytes(3)
    return "52:54:00:" + ":".join(f"{byte:02x}" for byte in tail)


def check_label(label: str) -> str:
    """``label`` when it is a safe folder/file name (``[A-Za-z0-9_.-]+``, not ``.``/``..``,
    at most ``MAX_LABEL`` characters: it names the folder, the conf and the disk)."""
    if not _LABEL.fullmatch(label) or label in (".", "..") or label.startswith("."):
        raise CtysError(
            f"bad label {label!r}: use letters, digits, '_', '.', '-' (not starting with '.')"
        )
    if len(label) > MAX_LABEL:
        raise CtysError(f"label too long ({len(label)} characters, at most {MAX_LABEL})")
    return label


def check_mac(mac: str) -> str:
    """``mac`` (lower-cased) when it is a unicast MAC ``xx:xx:xx:xx:xx:xx``."""
    if not _MAC.fullmatch(mac):
        raise CtysError(f"bad MAC {mac!r}: expected six hex pairs like 52:54:00:12:34:56")
    if int(mac[:2], 16) & 1:
        raise CtysError(f"bad MAC {mac!r}: a multicast address (first byte odd) cannot be a NIC")
    return mac.lower()


def check_uuid(text: str) -> str:
    """``text`` as a canonical UUID string."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise CtysError(f"bad UUID {text!r}") from None


def check_ip(text: str) -> str:
    """``text`` when it is an IPv4/IPv6 address."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise CtysError(f"bad IP address {text!r}") from None


def _existing_file(path: Path | None, what: str) -> str | None:
    """Absolute path text of an existing file (the conf must work from any cwd)."""
    if path is None:
        return None
    if not path.is_file():
        raise CtysError(f"{what} {path} is not an existing file")
    return str(path.absolute())


def answers_for(req: NewVmRequest, disk_name: str | None) -> ConfAnswers:
    """Validate ``req`` and turn it into the conf's answers (fresh UUID/MAC if not given)."""
    check_label(req.label)
    if not 1 <= req.vcpu <= MAX_VCPU:
        raise CtysError(f"VCPU {req.vcpu} is out of range 1..{MAX_VCPU}")
    if req.memsize_mb < 1:
        raise CtysError(f"memory {req.memsize_mb} MB is not a positive size")
    if (req.initrd is not None or req.append is not None) and req.kernel is None:
        raise CtysError("--initrd and --append need --kernel")
    return ConfAnswers(
        label=req.label,
        uuid=check_uuid(req.uuid) if req.uuid else str(uuid.uuid4()),
        mac=check_mac(req.mac) if req.mac else random_mac(),
        accelerator=req.accelerator,
        memsize_mb=req.memsize_mb,
        vcpu=req.vcpu,
        hdd=disk_name,
        hdd_size=req.disk_size_text if disk_name else None,
        cdrom=_existing_file(req.iso, "ISO"),
        kernel=_existing_file(req.kernel, "kernel"),
        initrd=_existing_file(req.initrd, "initrd"),
        append=req.append or None,
        os=req.os or None,
        dist=req.dist or None,
        ip=check_ip(req.ip) if req.ip else None,
        extra_keys=req.extra_keys,
        extra_vars=req.extra_vars,
    )


def create_vm(req: NewVmRequest) -> NewVm:
    """Create ``BASE/LABEL/LABEL.conf`` and (``disk_size`` > 0) ``LABEL.<fmt>``; see the
    module docstring for atomicity and ``force``."""
    disk_name = f"{req.label}{req.disk_format.suffix}" if req.disk_size > 0 else None
    answers = answers_for(req, disk_name)
    target = req.directory or req.base / req.label
    conf_name = f"{req.label}{req.layout.conf_suffix}"
    suffix = req.layout.wrapper_suffix
    wrapper_name = f"{req.label}{suffix}" if suffix else None
    names = [n for n in (conf_name, disk_name, wrapper_name) if n]
    # A folder named with -D may exist (the original writes into it): only our files count.
    taken = (
        target
        if req.directory is None
        else next((target / n for n in names if (target / n).exists()), None)
    )
    if taken is not None and (taken.exists() or taken.is_symlink()) and not req.force:
        what = "VM folder" if taken.is_dir() else "file"
        raise CtysError(f"{what} {taken} exists already (use --force to replace its conf/disk)")
    if target.exists() and not target.is_dir():
        raise CtysError(f"{target} exists and is not a folder")
    made = _missing_folders(target.parent)
    # Built beside the folder, or inside it when it exists (-D, --force): its parent (the
    # current folder's, say) need not be writable.
    where = target if target.is_dir() else target.parent
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix=f".{req.label}.new-", dir=where))
    except OSError as err:
        _remove_empty(made)
        raise CtysError(f"cannot create a folder in {where}: {err.strerror or err}") from err
    try:
        (build / conf_name).write_text(render_conf(answers))
        if wrapper_name is not None:
            (build / wrapper_name).write_text(render_wrapper(req.label, conf_name, req.layout))
            (build / wrapper_name).chmod(0o755)
        made_disk = disk_name is not None and req.make_image
        if made_disk:
            create_image(build / str(disk_name), req.disk_size, req.disk_format.value)
        # The conf comes first in the list: it is installed last.
        _install(build, target, [n for n in names if n != disk_name or made_disk])
    except BaseException as err:  # a full disk, qemu-img failing, Ctrl-C: nothing is left
        shutil.rmtree(build, ignore_errors=True)
        _remove_empty(made)
        if isinstance(err, OSError):
            raise CtysError(
                f"cannot create VM {req.label} in {req.base}: {err.strerror or err}"
            ) from err
        raise
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return NewVm(
        label=req.label,
        directory=target,
        conf=target / conf_name,
        disk=target / disk_name if disk_name else None,
        uuid=answers.uuid,
        mac=answers.mac,
        wrapper=target / wrapper_name if wrapper_name else None,
    )


def _missing_folders(base: Path) -> list[Path]:
    """``base`` and those of its parents that do not exist yet, deepest first: what a
    failed create removes again (nothing half-made is left)."""
    missing: list[Path] = []
    for folder in (base, *base.parents):
        if folder.exists() or folder.is_symlink():
            break
        missing.append(folder)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (someone else's now) or gone: leave the rest


def _install(build: Path, target: Path, names: list[str]) -> None:
    """Move the finished files into place: the whole folder when there is none yet, else
    (``force``) file by file, the conf last so a reader never sees a conf without its disk."""
    build.chmod(0o755)  # mkdtemp made it private; a VM folder is an ordinary folder
    if not target.exists():
        build.rename(target)
        return
    for name in reversed(names):
        (build / name).replace(target / name)
    with contextlib.suppress(OSError):
        build.rmdir()


def default_base() -> Path:
    """First entry of ``$CTYS_VMPATH``, else ``~/qemu`` (where ENUMERATE/CREATE look)."""
    return qemu_base_paths()[0]
