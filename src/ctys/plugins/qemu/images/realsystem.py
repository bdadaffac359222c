"""Build (and cache) the real system guest: a debootstrapped Debian 12 on a partitioned qcow2.

The disk has an MBR partition table, one ext4 partition and GRUB in the MBR gap, so
``BOOTMODE:HDD`` boots it without ``KERNEL:``. The guest runs systemd, sshd (root login by
a key generated beside the image), the QEMU guest agent, DHCP on its NIC (systemd-networkd)
and a getty on ttyS0 (``console=ttyS0`` on the kernel command line).

Nothing here needs a loop device or a mount of the image: the root tree is made by
``debootstrap`` in a folder, the file system by ``mkfs.ext4 -d`` in a partition image, the
disk by ``sfdisk`` on a plain file, and GRUB's ``boot.img`` + ``core.img`` (made by
``grub-mkimage``) are written into its first sectors. ``debootstrap`` needs root (chroot).
Built once per machine under a lock in ``~/.cache/ctys/realguest``.

The ``cloud`` variant (``CLOUD``) is the same system plus cloud-init, reading only a NoCloud
seed: it bakes no ssh key and a placeholder host name, so whatever a VM's seed sets is
visibly cloud-init's doing. It has its own folder (``bookworm-cloud_<stamp>``) beside the
base image's, which stays as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ctys.errors import CommandError, CtysError
from ctys.filelock import exclusive_lock
from ctys.runcmd import run_command

#: Bump when the image's contents or layout change, so existing caches are rebuilt.
BUILD_FORMAT = 1
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PACKAGES: tuple[str, ...] = (
    "systemd-sysv",
    "udev",  # device units: the guest agent's virtio port, ttyS0
    "dbus",  # systemd-logind, which turns the ACPI power button into a power-off
    "linux-image-cloud-amd64",
    "openssh-server",
    "qemu-guest-agent",
    "iproute2",
)
DISK_NAME = "disk.qcow2"
KEY_NAME = "id_ed25519"
DISK_MIB = 1400  # the disk's virtual size: under 1.5 GB
PART_START_SECTOR = 2048  # 1 MiB: the gap before it holds GRUB's core.img
SECTOR = 512
GRUB_DIR = Path("/usr/lib/grub/i386-pc")
GRUB_MODULES = ("biosdisk", "part_msdos", "ext2", "normal", "linux", "echo", "serial",
                "terminal", "search", "configfile", "test")  # fmt: skip
HOSTNAME = "ctys-real"
#: On the guest's kernel command line (serial console for the tests and for CONSOLE:CLI).
KERNEL_ARGS = "ro console=tty0 console=ttyS0,115200 panic=10"
BUILD_TIMEOUT = 1800.0

_NETWORK_UNIT = """\
[Match]
Name=en* eth*

[Network]
DHCP=yes
"""

#: The cloud variant's datasources: the cidata seed ctys attaches, else none (ds-identify
#: then disables cloud-init for that boot). One line: ds-identify reads no YAML lists.
_CLOUD_DATASOURCES = """\
# ctys: NoCloud only (the cidata seed of #@#CLOUDINIT); no network metadata service
datasource_list: [ NoCloud, None ]
# The locale the image has (cloud-init's default en_US.UTF-8 is not generated in it)
locale: C.UTF-8
"""

Log = Callable[[str], None]


@dataclass(frozen=True)
class Variant:
    """One image built from the same recipe: extra packages, the host name baked in, whether
    root's ssh key is baked in, and extra files (path in the guest → text)."""

    name: str
    packages: tuple[str, ...] = ()
    hostname: str = HOSTNAME
    root_key: bool = True
    files: tuple[tuple[str, str], ...] = ()

    @property
    def prefix(self) -> str:
        """The start of its cache folders' names (``bookworm``, ``bookworm-cloud``)."""
        return SUITE if self == BASE else f"{SUITE}-{self.name}"


BASE = Variant("base")
#: cloud-init's default user is ``debian`` (Debian's cloud.cfg); ``sudo`` for its sudo rule.
#: ``python3-cffi-backend`` provides the virtual package python3-cryptography needs, which
#: debootstrap's resolver does not pick by itself.
#: The baked DHCP unit (50-) stays as the fallback; cloud-init's rendered networkd files
#: (10-cloud-init-*) sort first and win for the NICs they name.
CLOUD = Variant(
    "cloud",
    ("cloud-init", "python3-cffi-backend", "sudo"),
    hostname="ctys-cloud-unset",
    root_key=False,
    files=(
        ("/etc/cloud/cloud.cfg.d/99_ctys.cfg", _CLOUD_DATASOURCES),
        ("/etc/default/locale", "LANG=C.UTF-8\n"),  # as cloud.cfg says: nothing to generate
    ),
)
VARIANTS = {v.name: v for v in (BASE, CLOUD)}


@dataclass(frozen=True)
class RealGuestImage:
    """The built guest: its disk (``BOOTMODE:HDD``) and the ssh key that logs in as root."""

    disk: Path
    key: Path  # absent for a variant that bakes no key (``CLOUD``)

    @property
    def build_seconds(self) -> float | None:
        """How long the build took (``None`` for an image built by an older version)."""
        stamp = self.disk.parent / "build-seconds"
        try:
            return float(stamp.read_text())
        except (OSError, ValueError):
            return None


def default_cache_dir() -> Path:
    """``$CTYS_REALGUEST_CACHE``, else ``~/.cache/ctys/realguest``."""
    env = os.environ.get("CTYS_REALGUEST_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "ctys" / "realguest"


def image_stamp(variant: Variant = BASE) -> str:
    """What the cached image was built from (format, suite, packages, variant): its
    folder's name."""
    text = f"format={BUILD_FORMAT} suite={SUITE} packages={','.join(PACKAGES)}"
    if variant != BASE:  # the base image's stamp stays what it was: its cache stays valid
        text += f" variant={variant!r}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_image(cache_dir: Path | None = None, variant: Variant = BASE) -> RealGuestImage | None:
    """The image when it is built already, else ``None`` (builds nothing)."""
    image = _image_in(_final_dir(cache_dir or default_cache_dir(), variant))
    built = image.disk.is_file() and (image.key.is_file() or not variant.root_key)
    return image if built else None


def _final_dir(cache: Path, variant: Variant = BASE) -> Path:
    return cache / f"{variant.prefix}_{image_stamp(variant)}"


def _image_in(folder: Path) -> RealGuestImage:
    return RealGuestImage(folder / DISK_NAME, folder / KEY_NAME)


def build_real_guest(
    cache_dir: Path | None = None, *, log: Log | None = None, variant: Variant = BASE
) -> RealGuestImage:
    """Return the cached real system guest, building it first (a few minutes; root only).

    Safe to call from several processes at once: builds (of every variant) are serialised
    by one lock and the finished folder is renamed into place. ``log`` hears one line per
    build step.
    """
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    found = cached_image(cache, variant)
    if found is not None:
        return found
    if os.geteuid() != 0:
        raise CtysError("building the real system guest needs root (debootstrap chroots)")
    cache.mkdir(parents=True, exist_ok=True)
    say = log or (lambda _line: None)
    with exclusive_lock(cache / ".lock"):
        found = cached_image(cache, variant)  # another process built it while we waited
        if found is not None:
            return found
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=cache, prefix=".build-") as tmp:
            work = Path(tmp)
            out = work / "out"
            out.mkdir(mode=0o700)
            try:
                _build(work, out, say, variant)
            finally:
                _unmount_below(work)  # an interrupted debootstrap leaves /proc etc. mounted
            (out / "build-seconds").write_text(f"{time.monotonic() - started:.1f}\n")
            out.rename(_final_dir(cache, variant))
        _remove_old_builds(cache, variant)
    say(f"real system guest ({variant.name}) built in {time.monotonic() - started:.0f}s")
    return _image_in(_final_dir(cache, variant))


def _unmount_below(work: Path, mounts: Path = Path("/proc/self/mounts")) -> None:
    """Lazily unmount whatever is mounted below ``work`` (deepest first), so removing the
    build folder never reaches into a mounted /proc or /dev."""
    try:
        lines = mounts.read_text().splitlines()
    except OSError:
        return
    prefix = str(work).rstrip("/") + "/"
    # /proc/self/mounts escapes blanks in paths as \040.
    points = [line.split()[1].replace("\\040", " ") for line in lines if len(line.split()) > 1]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        with contextlib.suppress(CtysError):
            _run(["umount", "--lazy", point])


def _remove_old_builds(cache: Path, variant: Variant) -> None:
    keep = _final_dir(cache, variant).name
    for old in cache.glob(f"{variant.prefix}_*"):  # another variant's folders stay
        if old.name != keep and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def _run(argv: list[str], *, cwd: Path | None = None) -> str:
    missing = f"{argv[0]}: command not found (scripts/install.sh installs what the build needs)"
    try:
        return run_command(argv, cwd=cwd, missing=missing, timeout=BUILD_TIMEOUT)
    except CommandError as err:
        last = err.stderr.strip().splitlines()[-1:] or [str(err)]
        raise CtysError(f"building the real system guest: {argv[0]} failed: {last[0]}") from err


def _build(work: Path, out: Path, say: Log, variant: Variant) -> None:
    root = work / "root"
    mirror = debian_mirror()
    say(f"debootstrap {SUITE} from {mirror} ...")
    _run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(PACKAGES + variant.packages)}",
            SUITE,
            str(root),
            mirror,
        ]
    )
    fs_uuid = str(uuid.uuid4())
    kernel, initrd = _boot_files(root)
    say("configuring the guest (network, console, ssh key, GRUB) ...")
    public_key = None
    if variant.root_key:
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ctys-realguest",
              "-f", str(out / KEY_NAME)])  # fmt: skip
        (out / KEY_NAME).chmod(0o600)
        public_key = (out / f"{KEY_NAME}.pub").read_text()
    _configure(root, fs_uuid, public_key, variant)
    _write_grub_cfg(root, fs_uuid, kernel, initrd)
    say("writing the disk image ...")
    raw = work / "disk.raw"
    _write_disk(root, raw, fs_uuid, work)
    _run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(out / DISK_NAME)])


def debian_mirror(sources: list[Path] | None = None) -> str:
    """The Debian mirror this machine's apt uses (``$CTYS_DEBIAN_MIRROR`` wins): the first
    ``deb`` source of the main archive in ``/etc/apt/sources.list`` or ``sources.list.d``
    (one-line or deb822 format); Debian's own mirror when none is found."""
    env = os.environ.get("CTYS_DEBIAN_MIRROR")
    if env:
        return env
    if sources is None:
        apt = Path("/etc/apt")
        sources = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]
    for path in sources:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        found = _mirror_in(text, deb822=path.suffix == ".sources")
        if found:
            return found
    return DEFAULT_MIRROR


def _is_main_archive(uri: str, suites: list[str]) -> bool:
    return SUITE in suites and "security" not in uri


def _mirror_in(text: str, *, deb822: bool) -> str | None:
    if not deb822:
        for line in text.splitlines():
            words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb" and _is_main_archive(words[1], [words[2]]):
                return words[1].rstrip("/")
        return None
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if ":" in line and not line.lstrip().startswith("#"):
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        if "deb" not in fields.get("types", "").split():
            continue
        uris = fields.get("uris", "").split()
        suites = fields.get("suites", "").split()
        for uri in uris:
            if _is_main_archive(uri, suites):
                return uri.rstrip("/")
    return None


def _boot_files(root: Path) -> tuple[str, str]:
    """The kernel and initrd in the tree's /boot (paths inside the guest)."""
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    if len(kernels) != 1:
        raise CtysError(f"building the real system guest: {len(kernels)} kernels in /boot")
    version = kernels[0].name.removeprefix("vmlinuz-")
    if not (root / "boot" / f"initrd.img-{version}").is_file():
        raise CtysError(f"building the real system guest: no initrd for kernel {version}")
    return f"/boot/vmlinuz-{version}", f"/boot/initrd.img-{version}"


def _write(root: Path, inside: str, text: str, mode: int = 0o644) -> None:
    path = root / inside.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _enable(root: Path, unit_file: str, wanted_by: str, name: str | None = None) -> None:
    """``systemctl enable`` as the symlink it makes (no systemd runs in the build tree)."""
    link = root / "etc/systemd/system" / f"{wanted_by}.wants" / (name or Path(unit_file).name)
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(unit_file)


def _configure(root: Path, fs_uuid: str, public_key: str | None, variant: Variant) -> None:
    _write(root, "/etc/hostname", f"{variant.hostname}\n")
    _write(root, "/etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {variant.hostname}\n")
    _write(root, "/etc/fstab", f"UUID={fs_uuid} / ext4 errors=remount-ro 0 1\n")
    _write(root, "/etc/systemd/network/50-dhcp.network", _NETWORK_UNIT)
    _enable(root, "/lib/systemd/system/systemd-networkd.service", "multi-user.target")
    _enable(root, "/lib/systemd/system/serial-getty@.service", "getty.target",
            "serial-getty@ttyS0.service")  # fmt: skip
    # Root logs in by the generated key only (no password is set); a variant without it
    # has no key at all until cloud-init writes the seed's.
    if public_key is not None:
        _write(root, "/root/.ssh/authorized_keys", public_key, 0o600)
        (root / "root/.ssh").chmod(0o700)
    for inside, text in variant.files:
        _write(root, inside, text)
    _write(root, "/etc/ssh/sshd_config.d/ctys.conf",
           "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n")  # fmt: skip
    # No wait for a network that may never come (user mode answers DHCP at once anyway).
    mask = root / "etc/systemd/system/systemd-networkd-wait-online.service"
    if not mask.is_symlink():
        mask.symlink_to("/dev/null")
    # A fixed machine-id is created at first boot when the file is empty.
    _write(root, "/etc/machine-id", "")
    _run(["chroot", str(root), "apt-get", "clean"])
    shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)


def _write_grub_cfg(root: Path, fs_uuid: str, kernel: str, initrd: str) -> None:
    _write(
        root,
        "/boot/grub/grub.cfg",
        "serial --unit=0 --speed=115200\n"
        "terminal_input serial console\n"
        "terminal_output serial console\n"
        "set timeout=1\n"
        "menuentry 'Debian GNU/Linux (ctys real guest)' {\n"
        f"    search --no-floppy --fs-uuid --set=root {fs_uuid}\n"
        f"    linux {kernel} root=UUID={fs_uuid} {KERNEL_ARGS}\n"
        f"    initrd {initrd}\n"
        "}\n",
    )


def _write_disk(root: Path, raw: Path, fs_uuid: str, work: Path) -> None:
    """``raw``: MBR + GRUB core in the gap + one bootable ext4 partition made from ``root``."""
    part_sectors = DISK_MIB * 1024 * 1024 // SECTOR - PART_START_SECTOR
    part = work / "part.ext4"
    with part.open("wb") as fh:
        fh.truncate(part_sectors * SECTOR)
    _run(["mkfs.ext4", "-q", "-F", "-L", "ctys-root", "-U", fs_uuid, "-d", str(root),
          str(part)])  # fmt: skip
    with raw.open("wb") as fh:
        fh.truncate(DISK_MIB * 1024 * 1024)
    table = f"label: dos\nstart={PART_START_SECTOR}, size={part_sectors}, type=83, bootable\n"
    _run_stdin(["sfdisk", "--no-reread", "--no-tell-kernel", "-q", str(raw)], table)
    core = work / "core.img"
    embedded = work / "early.cfg"
    embedded.write_text(f"search --no-floppy --fs-uuid --set=root {fs_uuid}\n"
                        "set prefix=($root)/boot/grub\n")  # fmt: skip
    _run(["grub-mkimage", "-O", "i386-pc", "-o", str(core), "-c", str(embedded),
          "-p", "/boot/grub", *GRUB_MODULES])  # fmt: skip
    _write_boot_sectors(raw, (GRUB_DIR / "boot.img").read_bytes(), core.read_bytes())
    with raw.open("r+b") as dst, part.open("rb") as src:
        dst.seek(PART_START_SECTOR * SECTOR)
        shutil.copyfileobj(src, dst, 16 * 1024 * 1024)
    part.unlink()


def _write_boot_sectors(raw: Path, boot_img: bytes, core_img: bytes) -> None:
    """GRUB's boot code into the MBR (the partition table stays) and ``core.img`` right
    after it: boot.img loads the core from sector 1, its default, and the core's first
    sector lists the rest as the sectors that follow (grub-mkimage writes its length)."""
    if len(boot_img) != SECTOR:
        raise CtysError(f"building the real system guest: {GRUB_DIR}/boot.img is not 512 bytes")
    if len(core_img) > (PART_START_SECTOR - 1) * SECTOR:
        raise CtysError("building the real system guest: GRUB's core.img does not fit the gap")
    with raw.open("r+b") as fh:
        mbr = bytearray(fh.read(SECTOR))
        mbr[:440] = boot_img[:440]  # code only: disk signature and partition table stay
        fh.seek(0)
        fh.write(bytes(mbr))
        fh.seek(SECTOR)
        fh.write(core_img)


def _run_stdin(argv: list[str], text: str) -> None:
    try:
        done = subprocess.run(argv, input=text, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise CtysError(f"{argv[0]}: command not found (scripts/install.sh installs it)") from exc
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise CtysError(f"building the real system guest: {argv[0]} failed: {last[0]}")


def main(argv: list[str] | None = None) -> int:
    """``python -m ctys.plugins.qemu.images.realsystem [VARIANT…]``: build the images
    (once; default every variant), print where."""
    names = argv if argv is not None else sys.argv[1:]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        print(f"unknown variant {unknown[0]!r} (one of: {', '.join(VARIANTS)})", file=sys.stderr)
        return 2
    for name in names or list(VARIANTS):
        image = build_real_guest(log=lambda line: print(line, flush=True), variant=VARIANTS[name])
        took = image.build_seconds
        key = f"key {image.key}; " if image.key.is_file() else ""
        print(f"{name}: {image.disk} ({key}built in {took:.0f}s)" if took else str(image.disk))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
