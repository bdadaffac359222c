"""Build (and cache) the tiny Linux test guest: a Debian cloud kernel plus a busybox initramfs.

The guest boots in a few seconds under TCG, prints ``CTYS-GUEST-READY`` on its console, runs
a shell on the serial line and answers the ACPI power button (see ``init.sh``).  Nothing here
needs root: the kernel comes from ``apt-get download`` and the initramfs is written as a
``newc`` cpio archive in Python, so device nodes need no ``mknod``.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import lzma
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from ctys.errors import CommandError, CtysError
from ctys.filelock import exclusive_lock
from ctys.runcmd import run_command

#: Bump when the initramfs layout changes, so existing caches are rebuilt.
BUILD_FORMAT = 2
KERNEL_META_PACKAGE = "linux-image-cloud-amd64"
#: Debian's generic kernel: the cloud kernel has no 9p file system (CONFIG_NET_9P is not
#: set), so the shared-folder tests boot the same guest on this one.
GENERIC_KERNEL_META_PACKAGE = "linux-image-amd64"
BUSYBOX = Path("/bin/busybox")
KERNEL_NAME = "vmlinuz"
INITRD_NAME = "initrd.gz"

#: Modules the guest loads when the kernel has them as ``=m``: the power button and evdev
#: (busybox acpid reads button presses from /dev/input/event*), virtio-net for ctys.ip
#: (the cloud kernel has no e1000 driver), and IDE/SCSI/virtio disks and CD-ROMs so tests
#: can see the images they attach.
WANTED_MODULES: tuple[tuple[str, str], ...] = (
    ("CONFIG_ACPI_BUTTON", "button"),
    ("CONFIG_INPUT_EVDEV", "evdev"),
    ("CONFIG_VIRTIO_PCI", "virtio_pci"),
    ("CONFIG_VIRTIO_NET", "virtio_net"),
    ("CONFIG_VIRTIO_BLK", "virtio_blk"),
    ("CONFIG_ATA_PIIX", "ata_piix"),
    ("CONFIG_BLK_DEV_SD", "sd_mod"),
    ("CONFIG_BLK_DEV_SR", "sr_mod"),
    # Shared folders (the generic kernel; the cloud kernel has no 9p, and its virtiofs is
    # left out so its guest stays as it was).
    ("CONFIG_NET_9P_VIRTIO", "9pnet_virtio"),
    ("CONFIG_9P_FS", "9p"),
)


@dataclass(frozen=True)
class GuestImage:
    """A bootable guest: pass ``kernel`` to ``-kernel`` and ``initrd`` to ``-initrd``."""

    kernel: Path
    initrd: Path


def run(argv: list[str], *, cwd: Path | None = None) -> str:
    """Run ``argv``; return its stdout, raise ``CommandError`` (with stderr) when it fails."""
    missing = f"{argv[0]}: command not found (needed to build the test guest)"
    return run_command(argv, cwd=cwd, missing=missing)


def default_cache_dir() -> Path:
    """``$CTYS_GUEST_CACHE``, else ``~/.cache/ctys/guest``."""
    env = os.environ.get("CTYS_GUEST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "ctys" / "guest"


def init_script() -> bytes:
    """The guest's ``/init`` as shipped in the package."""
    return importlib.resources.files("ctys.plugins.qemu.images").joinpath("init.sh").read_bytes()


def build_guest(
    cache_dir: Path | None = None, kernel_meta: str = KERNEL_META_PACKAGE
) -> GuestImage:
    """Return the cached guest, building it first if the kernel or ``init.sh`` changed.

    ``$CTYS_GUEST_KERNEL`` names an existing kernel to use instead of downloading one; its
    modules are taken from ``/lib/modules/<version>`` when they exist. ``kernel_meta`` picks
    another Debian kernel (``GENERIC_KERNEL_META_PACKAGE``: 9p). Safe to call from
    several processes at once: builds are serialised by a lock and renamed into place.
    """
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    init = init_script()
    stamp = hashlib.sha256(init + f"format={BUILD_FORMAT}".encode()).hexdigest()[:16]
    local_kernel = os.environ.get("CTYS_GUEST_KERNEL")
    if local_kernel:
        return _build_for_local_kernel(cache, Path(local_kernel), init, stamp)

    package, version = _kernel_package(kernel_meta)
    final = cache / f"{package}_{version}_{stamp}"
    image = GuestImage(final / KERNEL_NAME, final / INITRD_NAME)
    if image.initrd.exists():
        return image
    with _locked(cache), tempfile.TemporaryDirectory(dir=cache, prefix=".build-") as tmp:
        if image.initrd.exists():  # another process built it while we waited
            return image
        work = Path(tmp)
        tree = download_package(package, work)
        out = work / "out"
        out.mkdir()
        shutil.copyfile(_only(tree.glob("boot/vmlinuz-*"), "vmlinuz"), out / KERNEL_NAME)
        config = _only(tree.glob("boot/config-*"), "kernel config")
        modules = _only(tree.glob("lib/modules/*"), "module directory")
        _write_initrd(out / INITRD_NAME, init, _wanted_modules(config, modules))
        out.rename(final)
    return image


def _build_for_local_kernel(cache: Path, kernel: Path, init: bytes, stamp: str) -> GuestImage:
    if not kernel.is_file():
        raise CtysError(f"CTYS_GUEST_KERNEL={kernel}: no such kernel file")
    digest = hashlib.sha256(kernel.read_bytes()).hexdigest()[:16]
    final = cache / f"local_{digest}_{stamp}"
    image = GuestImage(kernel, final / INITRD_NAME)
    if image.initrd.exists():
        return image
    with _locked(cache), tempfile.TemporaryDirectory(dir=cache, prefix=".build-") as tmp:
        if image.initrd.exists():
            return image
        # /boot/vmlinuz-V pairs with /boot/config-V and /lib/modules/V.
        version = kernel.name.removeprefix("vmlinuz-")
        config = kernel.parent / f"config-{version}"
        moddir = Path("/lib/modules") / version
        modules = _wanted_modules(config, moddir) if config.is_file() and moddir.is_dir() else []
        out = Path(tmp) / "out"
        out.mkdir()
        _write_initrd(out / INITRD_NAME, init, modules)
        out.rename(final)
    return image


def _locked(cache: Path) -> AbstractContextManager[None]:
    return exclusive_lock(cache / ".lock")


def _only(paths: Iterator[Path], what: str) -> Path:
    found = sorted(paths)
    if len(found) != 1:
        raise CtysError(f"kernel package: expected one {what}, found {len(found)}")
    return found[0]


def _kernel_package(meta: str = KERNEL_META_PACKAGE) -> tuple[str, str]:
    """The concrete package behind ``meta`` (``linux-image-cloud-amd64``) and its
    candidate version."""
    depends = run(["apt-cache", "depends", meta])
    match = re.search(r"Depends:\s*(linux-image-\d\S*)", depends)
    if match is None:
        raise CtysError(f"apt knows no {meta}: run 'apt-get update' first")
    package = match.group(1)
    policy = run(["apt-cache", "policy", package])
    version = re.search(r"Candidate:\s*(\S+)", policy)
    if version is None or version.group(1) == "(none)":
        raise CtysError(f"apt has no candidate version of {package}: run 'apt-get update'")
    return package, version.group(1)


def download_package(package: str, work: Path) -> Path:
    """``apt-get download`` ``package`` into ``work`` and unpack it (``dpkg-deb -x``, no root
    needed); return the unpacked tree ``work/tree``."""
    argv = ["apt-get", "download", package]
    if os.geteuid() == 0:
        # Root apt drops to the _apt user, which cannot write into our private temp dir.
        argv[1:1] = ["-o", "APT::Sandbox::User=root"]
    try:
        run(argv, cwd=work)
    except CommandError as err:
        raise CtysError(
            f"cannot download {package} (no network or stale apt lists?): "
            f"{err.stderr.strip().splitlines()[-1] if err.stderr.strip() else err}"
        ) from err
    deb = _only(work.glob("*.deb"), ".deb file")
    tree = work / "tree"
    run(["dpkg-deb", "-x", str(deb), str(tree)])
    deb.unlink()
    return tree


def _config_value(config: Path, symbol: str) -> str | None:
    for line in config.read_text().splitlines():
        if line.startswith(f"{symbol}="):
            return line.split("=", 1)[1]
    return None


def _module_index(moddir: Path) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for path in moddir.rglob("*.ko*"):
        name = re.sub(r"\.ko(\.xz|\.zst|\.gz)?$", "", path.name)
        index[name.replace("-", "_")] = path
    return index


def _module_bytes(path: Path) -> bytes:
    """The module's ELF bytes; compressed modules are unpacked because busybox insmod is plain."""
    if path.name.endswith(".xz"):
        return lzma.decompress(path.read_bytes())
    if path.name.endswith(".gz"):
        return gzip.decompress(path.read_bytes())
    if path.name.endswith(".zst"):
        return subprocess.run(
            ["zstd", "-d", "-c", str(path)], capture_output=True, check=True
        ).stdout
    return path.read_bytes()


def _wanted_modules(config: Path, moddir: Path) -> list[tuple[str, bytes]]:
    """The ``WANTED_MODULES`` the kernel builds as modules, dependencies first."""
    index = _module_index(moddir)
    ordered: list[tuple[str, bytes]] = []
    seen: set[str] = set()

    def add(name: str) -> None:
        if name in seen or name not in index:
            return
        seen.add(name)
        data = _module_bytes(index[name])
        deps = re.search(rb"(?:^|\0)depends=([^\0]*)\0", data)
        for dep in deps.group(1).decode().split(",") if deps else []:
            if dep:
                add(dep)
        ordered.append((name, data))

    for symbol, name in WANTED_MODULES:
        if _config_value(config, symbol) == "m":
            add(name)
    return ordered


def _write_initrd(target: Path, init: bytes, modules: list[tuple[str, bytes]]) -> None:
    archive = _Cpio()
    for directory in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp",
                      "etc", "root", "lib", "lib/modules"):  # fmt: skip
        archive.directory(directory)
    archive.char_device("dev/console", 5, 1)  # the kernel opens it before /init runs
    archive.file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
    for applet in run([str(BUSYBOX), "--list-full"]).split():
        if applet != "bin/busybox" and applet != "linuxrc":
            archive.symlink(applet, "/bin/busybox")
    archive.file("init", init, 0o755)
    # Numbered so init can insmod them in glob order, dependencies first.
    for number, (name, data) in enumerate(modules):
        archive.file(f"lib/modules/{number:02d}-{name}.ko", data, 0o644)
    target.write_bytes(gzip.compress(archive.finish(), compresslevel=9, mtime=0))


class _Cpio:
    """A ``newc`` cpio archive built in memory (the format the kernel unpacks)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._inode = 1

    def directory(self, name: str) -> None:
        self._entry(name, 0o040755, b"", nlink=2)

    def file(self, name: str, data: bytes, perm: int) -> None:
        self._entry(name, 0o100000 | perm, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, 0o120777, target.encode())

    def char_device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, 0o020600, b"", rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0, b"", inode=0)
        return b"".join(self._parts)

    def _entry(
        self,
        name: str,
        mode: int,
        data: bytes,
        *,
        nlink: int = 1,
        rdev: tuple[int, int] = (0, 0),
        inode: int | None = None,
    ) -> None:
        raw_name = name.encode() + b"\0"
        fields = (
            self._inode if inode is None else inode,
            mode,
            0,  # uid
            0,  # gid
            nlink,
            0,  # mtime: fixed, so identical inputs give identical archives
            len(data),
            0,  # dev major
            0,  # dev minor
            rdev[0],
            rdev[1],
            len(raw_name),
            0,  # check
        )
        self._inode += 1
        header = b"070701" + b"".join(f"{value:08x}".encode() for value in fields)
        self._parts += [header, raw_name, _pad(len(header) + len(raw_name)), data, _pad(len(data))]


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)
