"""Real boot media for the tests, built from Debian packages and cached outside the repo.

- ``netboot_tree``: the Debian installer's netboot tree (``debian-installer-12-netboot-amd64``)
  as a TFTP root for ``BOOTMODE:PXE%ROOT``, with a ``pxelinux.cfg/default`` of ours that boots
  the installer at once with its console on the serial port.
- ``installer_iso``: an isolinux CD (xorriso) around the same installer kernel and initrd,
  serial console on the kernel command line, for ``BOOTMODE:CD`` and ``INSTMODE:CD...``.
- ``uefi_disk``: a GPT disk with an EFI system partition holding systemd-boot (from
  ``systemd-boot-efi``) and the tiny test guest's kernel and initramfs, for ``FIRMWARE=UEFI``.

The installer is started in expert mode (``priority=low``): its first screen is the
"Debian installer main menu", and it touches no network before a user picks a step.
Each artefact is built once per machine under the cache's lock and renamed into place, so
concurrent test runs share it. Nothing here needs root: packages come from
``apt-get download`` + ``dpkg-deb -x``, the ISO from xorriso, the FAT file system from
``mkfs.vfat`` + ``mcopy``, the partition table from ``sfdisk`` on the image file.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ctys.errors import CtysError
from ctys.filelock import exclusive_lock
from ctys.plugins.qemu.images.build import GuestImage, download_package, run
from ctys.runcmd import run_command

#: Bump when a layout below changes, so existing caches are rebuilt.
MEDIA_FORMAT = 1
NETBOOT_PACKAGE = "debian-installer-12-netboot-amd64"
SYSTEMD_BOOT_PACKAGE = "systemd-boot-efi"
#: The installer's kernel command line: serial console, expert mode (main menu first).
INSTALLER_APPEND = "console=ttyS0,115200 priority=low"
#: What the installer's first screen shows on the serial console (newt frontend).
INSTALLER_MAIN_MENU = "Debian installer main menu"
#: Memory the installer needs (512 MB shows its low-memory dialog instead of the menu).
INSTALLER_MEMORY_MB = 1024
ISOLINUX_BIN = Path("/usr/lib/ISOLINUX/isolinux.bin")
LDLINUX_C32 = Path("/usr/lib/syslinux/modules/bios/ldlinux.c32")
ESP_TYPE_GUID = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
_ESP_OFFSET = 1024**2
_ESP_KIB = 62 * 1024
_DISK_BYTES = 64 * 1024**2
# Inside the netboot package: the text-mode tree that pxelinux.0 boots.
_NETBOOT_SUBDIR = Path("usr/lib/debian-installer/images/12/amd64/text")
_DI_DIR = Path("debian-installer/amd64")
_MISSING_SFDISK = "sfdisk: command not found (Debian: fdisk), needed to build the UEFI disk"


@dataclass(frozen=True)
class NetbootTree:
    """A TFTP root: ``root/bootfile`` is pxelinux; ``kernel``/``initrd`` the installer's."""

    root: Path
    bootfile: str
    kernel: Path
    initrd: Path


def default_media_cache() -> Path:
    """``$CTYS_MEDIA_CACHE``, else ``~/.cache/ctys/media``."""
    env = os.environ.get("CTYS_MEDIA_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "ctys" / "media"


def _candidate(package: str) -> str:
    policy = run(["apt-cache", "policy", package])
    match = re.search(r"Candidate:\s*(\S+)", policy)
    if match is None or match.group(1) == "(none)":
        raise CtysError(f"apt has no candidate version of {package}: run 'apt-get update'")
    return match.group(1)


def _stamp(*parts: str) -> str:
    text = "\0".join((*parts, f"format={MEDIA_FORMAT}"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _need_tool(path: Path, package: str) -> None:
    if not path.is_file():
        raise CtysError(f"{path} is missing: install Debian's {package} (scripts/install.sh)")


def _syslinux_cfg(kernel: str, initrd: str) -> str:
    """A pxelinux/isolinux config that boots the installer at once, console on ttyS0."""
    return (
        "SERIAL 0 115200\n"
        "DEFAULT install\n"
        "PROMPT 0\n"
        "TIMEOUT 0\n"
        "LABEL install\n"
        f"  KERNEL {kernel}\n"
        f"  APPEND initrd={initrd} {INSTALLER_APPEND} ---\n"
    )


def _pxelinux_cfg() -> str:
    di = _DI_DIR.as_posix()
    return _syslinux_cfg(f"{di}/linux", f"{di}/initrd.gz")


def _build_once(cache: Path, final: Path, build: Callable[[Path], Path]) -> Path:
    """``final``, made first when missing: under the cache's lock (checked again once
    held, another process may have built it meanwhile) ``build`` makes the artefact in a
    private temp folder and returns it; it is renamed to ``final``, so ``final`` exists only
    when complete."""
    if final.exists():
        return final
    cache.mkdir(parents=True, exist_ok=True)
    with (
        exclusive_lock(cache / ".lock"),
        tempfile.TemporaryDirectory(dir=cache, prefix=".b-") as tmp,
    ):
        if not final.exists():
            build(Path(tmp)).rename(final)
    return final


def _make_netboot(work: Path) -> Path:
    out = download_package(NETBOOT_PACKAGE, work) / _NETBOOT_SUBDIR
    # The package's pxelinux.cfg is a symlink into its own menu tree: ours replaces it.
    cfg = out / "pxelinux.cfg"
    if cfg.is_symlink() or cfg.is_file():
        cfg.unlink()
    elif cfg.is_dir():
        shutil.rmtree(cfg)
    cfg.mkdir()
    (cfg / "default").write_text(_pxelinux_cfg())
    return out


def netboot_tree(cache_dir: Path | None = None) -> NetbootTree:
    """The installer's netboot tree as a TFTP root (built once, then reused)."""
    cache = cache_dir if cache_dir is not None else default_media_cache()
    version = _candidate(NETBOOT_PACKAGE)
    final = _build_once(
        cache, cache / f"netboot_{version}_{_stamp(_pxelinux_cfg())}", _make_netboot
    )
    return NetbootTree(
        final, "pxelinux.0", final / _DI_DIR / "linux", final / _DI_DIR / "initrd.gz"
    )


def _isolinux_cfg() -> str:
    return _syslinux_cfg("/install/vmlinuz", "/install/initrd.gz")


def installer_iso(cache_dir: Path | None = None) -> Path:
    """An isolinux CD image of the Debian installer (built once, then reused)."""
    cache = cache_dir if cache_dir is not None else default_media_cache()
    netboot = netboot_tree(cache)

    def make(work: Path) -> Path:
        _need_tool(ISOLINUX_BIN, "isolinux")
        _need_tool(LDLINUX_C32, "syslinux-common")
        root = work / "cd"
        (root / "isolinux").mkdir(parents=True)
        (root / "install").mkdir()
        shutil.copyfile(ISOLINUX_BIN, root / "isolinux" / "isolinux.bin")
        shutil.copyfile(LDLINUX_C32, root / "isolinux" / "ldlinux.c32")
        (root / "isolinux" / "isolinux.cfg").write_text(_isolinux_cfg())
        shutil.copyfile(netboot.kernel, root / "install" / "vmlinuz")
        shutil.copyfile(netboot.initrd, root / "install" / "initrd.gz")
        iso = work / "out.iso"
        run(
            ["xorriso", "-as", "mkisofs", "-quiet", "-r", "-J", "-V", "CTYS_DI",
             "-o", str(iso), "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
             "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table", str(root)]
        )  # fmt: skip
        return iso

    name = f"installer_{netboot.root.name}_{_stamp(_isolinux_cfg())}.iso"
    return _build_once(cache, cache / name, make)


def _loader_entry(append: str) -> str:
    return f"title ctys test guest\nlinux /vmlinuz\ninitrd /initrd.gz\noptions {append}\n"


def _make_uefi_disk(work: Path, guest: GuestImage, append: str) -> Path:
    tree = download_package(SYSTEMD_BOOT_PACKAGE, work)
    files = work / "esp"
    for sub in ("EFI/BOOT", "loader/entries"):
        (files / sub).mkdir(parents=True)
    boot_efi = tree / "usr/lib/systemd/boot/efi/systemd-bootx64.efi"
    shutil.copyfile(boot_efi, files / "EFI/BOOT/BOOTX64.EFI")
    shutil.copyfile(guest.kernel, files / "vmlinuz")
    shutil.copyfile(guest.initrd, files / "initrd.gz")
    (files / "loader/loader.conf").write_text("default ctys.conf\ntimeout 0\n")
    (files / "loader/entries/ctys.conf").write_text(_loader_entry(append))
    esp = work / "esp.img"
    run(["mkfs.vfat", "-C", "-n", "CTYSESP", str(esp), str(_ESP_KIB)])
    image = ["-i", str(esp)]
    run(["mcopy", "-s", *image, str(files / "EFI"), str(files / "loader"), "::/"])
    run(["mcopy", *image, str(files / "vmlinuz"), str(files / "initrd.gz"), "::/"])
    disk = work / "disk.img"
    with disk.open("wb") as fh:
        fh.truncate(_DISK_BYTES)
    table = f"label: gpt\nstart=2048, size={_ESP_KIB * 2}, type={ESP_TYPE_GUID}\n"
    run_command(["sfdisk", "--quiet", str(disk)], input_text=table, missing=_MISSING_SFDISK)
    with esp.open("rb") as src, disk.open("r+b") as dst:
        dst.seek(_ESP_OFFSET)
        shutil.copyfileobj(src, dst)
    return disk


def uefi_disk(guest: GuestImage, append: str, cache_dir: Path | None = None) -> Path:
    """A raw GPT disk whose EFI system partition boots ``guest`` through systemd-boot with
    kernel command line ``append``. Shared and read-only for its users: copy it (or use a
    qcow2 overlay) before booting it writable."""
    cache = cache_dir if cache_dir is not None else default_media_cache()
    version = _candidate(SYSTEMD_BOOT_PACKAGE)
    digest = hashlib.sha256()
    for part in (guest.kernel, guest.initrd):
        digest.update(part.read_bytes())
    final = cache / f"uefi_{version}_{_stamp(digest.hexdigest(), append)}.img"
    return _build_once(cache, final, lambda work: _make_uefi_disk(work, guest, append))
