"""CREATE's ``INSTMODE``: boot installer media against a target disk, and the qemu-img
helpers that make disk images (also used by ``ctys-createConfVM``).

``INSTMODE:SRCMODE%SRCPATH%TGTMODE%TGTPATH%INIT|custom``

- ``SRCMODE``/``SRCPATH``: the installer medium, a BOOTMODE (CD, DVD, FDD, HDD, VHDD, USB,
  PXE) and its image; an empty path means the conf's medium of that kind (CDROM, FDD). For
  PXE the path is a TFTP root served on the user-mode NIC (``ctys.plugins.qemu.boot.pxe``).
- ``TGTMODE``/``TGTPATH``: the disk installed to (HDD, VHDD, USB); an empty path means the
  conf's first HDD. It is attached as the VM's first disk.
- ``default`` in a path field (the original's word, any case here) is the conf's value,
  as an empty field is.
- ``INIT``: prepare the target destructively — a fresh image replaces the old one.
  Any other word is a custom (post-install) mode, handed to the guest as-is.

``docs/create-vm.md`` is the user-facing description.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ctys.errors import UsageError, VmError
from ctys.plugins.qemu.boot.bootspec import BootMode, BootSpec
from ctys.plugins.qemu.vmconfig import VmConfig
from ctys.privfile import write_private_text
from ctys.runcmd import run_command

INIT = "INIT"
USAGE = "INSTMODE:SRCMODE%SRCPATH%TGTMODE%TGTPATH%INIT|custom"
#: Devices an installer can write to: disk images.
TARGET_MODES = (BootMode.HDD, BootMode.VHDD, BootMode.USB)
#: What an installer boots from: every BOOTMODE but a direct kernel boot.
SOURCE_MODES = tuple(mode for mode in BootMode if mode is not BootMode.KERNEL)
#: The word for "the conf's value" in a path field.
DEFAULT_WORD = "default"
#: Source modes whose medium is a (hard/USB) disk image rather than a CD/floppy drive.
DISK_SOURCE_MODES = (BootMode.HDD, BootMode.VHDD, BootMode.USB)
DEFAULT_INIT_SIZE = 8 * 1024**3
#: Conf keys (ctys keys first, then variables) giving the size of a fresh target image.
SIZE_KEYS = ("INSTSIZE", "HDDSIZE")
MIN_IMAGE_BYTES = 1024**2
# A custom mode lands on the kernel command line as one word: keep it one plain word.
_CUSTOM_WORD = re.compile(r"[A-Za-z0-9_.:+-]+")
_SIZE = re.compile(r"(\d+)\s*(?:([KMGTP])(?:i?B)?|B)?", re.IGNORECASE)
_UNIT_BYTES = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}


@dataclass(frozen=True)
class InstallSpec:
    """One parsed ``INSTMODE``: boot ``source`` to install onto ``target``."""

    source: BootSpec
    target: BootSpec
    action: str = INIT  # "INIT" or a custom post-install mode word

    @property
    def init(self) -> bool:
        """True when the target is to be replaced by a fresh, empty image first."""
        return self.action == INIT


def parse_install(fields: Sequence[str], raw: str) -> InstallSpec:
    """``INSTMODE`` fields (the ``%``-separated values) → ``InstallSpec``.

    Every malformed field is a ``UsageError`` naming the bad token and the suboption.
    """
    if len(fields) != 5:
        raise UsageError(f"'{raw}': expected {USAGE} (5 fields, got {len(fields)})")
    src_mode, src_path, tgt_mode, tgt_path, action = fields
    source = BootSpec(_mode(src_mode, "SRCMODE", raw, SOURCE_MODES), _path(src_path))
    target = BootSpec(_mode(tgt_mode, "TGTMODE", raw, TARGET_MODES), _path(tgt_path))
    if source.mode in DISK_SOURCE_MODES and source.path is None:
        raise UsageError(
            f"'{raw}': SRCMODE {source.mode.value} needs a SRCPATH (the conf's disk is the target)"
        )
    if not action:
        raise UsageError(f"'{raw}': the last field must be INIT or a custom mode word")
    if action.upper() == INIT:
        action = INIT
    elif not _CUSTOM_WORD.fullmatch(action):
        raise UsageError(
            f"'{raw}': custom mode '{action}' must be one word of letters, digits and _.:+-"
        )
    return InstallSpec(source, target, action)


def _mode(token: str, field: str, raw: str, allowed: Sequence[BootMode]) -> BootMode:
    try:
        mode = BootMode(token.upper())
    except ValueError:
        mode = None
    if mode is None or mode not in allowed:
        valid = "|".join(m.value for m in allowed)
        shown = token or "(empty)"
        raise UsageError(f"'{raw}': bad {field} '{shown}' ({valid})")
    return mode


def _path(token: str) -> Path | None:
    """A path field: empty or ``default`` is the conf's value."""
    if not token or token.lower() == DEFAULT_WORD:
        return None
    return Path(token).expanduser()


# -- the VM as the install boot sees it ------------------------------------------------


def install_target(vm: VmConfig, spec: InstallSpec) -> Path:
    """The target image: TGTPATH, else the conf's first HDD (relative paths as given)."""
    target = spec.target.path or (vm.hdd[0] if vm.hdd else None)
    if target is None:
        raise VmError(
            f"INSTMODE: VM {vm.label} has no HDD to install onto; give a TGTPATH ({USAGE})"
        )
    return target


def install_vm(vm: VmConfig, spec: InstallSpec) -> VmConfig:
    """``vm`` as the install boot sees it: the target as first disk, a CD/DVD/FDD source as
    its CDROM/FDD, no other removable media. A disk/USB source is attached by the argv
    builder."""
    target = install_target(vm, spec)
    changes: dict[str, object] = {"hdd": (target, *vm.hdd[1:]), "cdrom": None, "fdd": None}
    mode, path = spec.source.mode, spec.source.path
    if mode in (BootMode.CD, BootMode.DVD):
        if (path or vm.cdrom) is None:
            raise VmError(f"INSTMODE:{mode.value}: VM {vm.label} has no CDROM; give a SRCPATH")
        changes["cdrom"] = path or vm.cdrom
    elif mode is BootMode.FDD:
        if (path or vm.fdd) is None:
            raise VmError(f"INSTMODE:FDD: VM {vm.label} has no FDD image; give a SRCPATH")
        changes["fdd"] = path or vm.fdd
    elif path is not None and path.absolute() == target.absolute():
        raise VmError(f"INSTMODE: source and target are the same image {target}")
    return dataclasses.replace(vm, **changes)  # type: ignore[arg-type]


def check_install_media(vm: VmConfig, spec: InstallSpec) -> VmConfig:
    """Check what the install boot opens and return the VM to hand to ``check_media``:
    with ``INIT`` the target need not exist yet (it is about to be made), so it is left
    out; a disk/USB source is checked here because ``check_media`` does not know it."""
    inst = install_vm(vm, spec)
    source = spec.source.path
    if spec.source.mode in DISK_SOURCE_MODES and source is not None:
        if not source.is_file():
            raise VmError(f"INSTMODE: source image {source} is not a file")
        if not os.access(source, os.R_OK):
            raise VmError(f"INSTMODE: source image {source} is not readable")
    if spec.init:
        target = inst.hdd[0]
        if not target.parent.is_dir():
            raise VmError(f"INSTMODE: folder {target.parent} of target {target} does not exist")
        if target.is_dir():
            raise VmError(f"INSTMODE: target {target} is a directory, not an image file")
        return dataclasses.replace(inst, hdd=inst.hdd[1:])
    return inst


def kernel_word(spec: InstallSpec) -> str:
    """What the guest finds on its kernel command line when a KERNEL is booted."""
    return f"ctys.instmode={spec.action}"


def write_install_note(rundir: Path, spec: InstallSpec, target: Path) -> None:
    """Record the install mode beside the VM's runtime record (``instmode.json``)."""
    note = {
        "action": spec.action,
        "source_mode": spec.source.mode.value,
        "source": None if spec.source.path is None else str(spec.source.path),
        "target_mode": spec.target.mode.value,
        "target": str(target),
    }
    write_private_text(rundir / "instmode.json", json.dumps(note, indent=1, sort_keys=True))


# -- sizes and qemu-img -------------------------------------------------------------


def parse_size(text: str) -> int:
    """A disk size as qemu-img reads it: ``8G``, ``512M``, ``1T``, ``8GiB``; a bare number
    is bytes. Units are binary (1K = 1024). At least 1 MiB; ``ValueError`` otherwise."""
    match = _SIZE.fullmatch(text.strip())
    if match is None or not text.isascii():
        raise ValueError(f"not a size (like 8G, 512M, 20480M): {text!r}")
    unit = match.group(2)
    size = int(match.group(1)) * (_UNIT_BYTES[unit.upper()] if unit else 1)
    if size < MIN_IMAGE_BYTES:
        raise ValueError(f"size {text!r} is below the minimum of 1M")
    return size


def run_qemu_img(args: Sequence[str]) -> str:
    """Run ``qemu-img ARGS``; return stdout. A missing qemu-img is a ``VmError``, a failure
    a ``CommandError`` carrying its stderr."""
    return run_command(
        ["qemu-img", *args],
        missing="qemu-img not found: install QEMU's tools (Debian: qemu-utils)",
        error=VmError,
    )


def image_info(path: Path) -> dict[str, object]:
    """``qemu-img info --output=json`` of ``path`` as a dict."""
    out = run_qemu_img(["info", "--output=json", "--", str(path)])
    try:
        info = json.loads(out)
    except ValueError as err:
        raise VmError(f"qemu-img info {path}: unreadable output") from err
    if not isinstance(info, dict):
        raise VmError(f"qemu-img info {path}: unexpected output")
    return info


def create_image(path: Path, size_bytes: int, fmt: str) -> None:
    """``qemu-img create -f FMT PATH SIZE`` (sparse; overwrites ``path``)."""
    run_qemu_img(["create", "-q", "-f", fmt, "--", str(path), str(size_bytes)])


@contextlib.contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner with ``message`` on stderr while a slow step runs — only on a terminal, so
    logs and pipes stay clean."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console  # imported late: CREATE's start path stays light
    from rich.text import Text

    from ctys.textescape import printable

    # A Text, not a str: rich would read "[x]" in a file name as markup.
    with Console(stderr=True).status(Text(printable(message))):
        yield


# -- INIT: a fresh target image -------------------------------------------------------


@dataclass(frozen=True)
class FreshImage:
    """The image INIT made: where, how big (bytes) and in which format."""

    path: Path
    size: int
    fmt: str


def init_size(vm: VmConfig, target: Path) -> int:
    """Size of the fresh target: conf ``#@#INSTSIZE``/``HDDSIZE`` (or such variables), else
    the old image's virtual size, else 8G."""
    raw = vm.raw
    if raw is not None:
        for table in (raw.keys, raw.variables):
            for name in SIZE_KEYS:
                value = table.get(name, "").strip()
                if value:
                    try:
                        return parse_size(value)
                    except ValueError as err:
                        raise VmError(f"{vm.conf_path}: {name}: {err}") from None
    if target.is_file():
        size = image_info(target).get("virtual-size")
        if isinstance(size, int) and size > 0:
            return size
    return DEFAULT_INIT_SIZE


def init_format(target: Path) -> str:
    """Format of the fresh target: by suffix (as the argv builder reads it), else the old
    image's format, else raw."""
    from ctys.plugins.qemu.boot.argv import disk_format  # argv imports this module: import late

    fmt = disk_format(target)
    if fmt is None and target.is_file():
        found = image_info(target).get("format")
        fmt = found if isinstance(found, str) else None
    return fmt or "raw"


def prepare_target(vm: VmConfig, spec: InstallSpec) -> FreshImage:
    """INIT: replace the target image by a fresh one, atomically — qemu-img writes a temp
    file beside it, which is renamed over the target only once qemu-img succeeded, so a
    failure leaves the old image untouched. Call with the VM's start lock held."""
    target = install_target(vm, spec)
    size = init_size(vm, target)
    fmt = init_format(target)
    import secrets  # INIT only: a CREATE without INSTMODE does not load it

    partial = target.with_name(f".{target.name}.init-{secrets.token_hex(4)}")
    try:
        with progress(f"INSTMODE INIT: creating {fmt} image {target} ({size} bytes)"):
            create_image(partial, size, fmt)
        partial.replace(target)
    except OSError as err:
        raise VmError(f"INSTMODE INIT: cannot create {target}: {err.strerror or err}") from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return FreshImage(target, size, fmt)
