"""The real system guest builder's pure parts: the apt mirror, the boot sectors, the
cache stamp, the VM folder it writes (no debootstrap, no root)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctys.errors import CtysError
from ctys.plugins.qemu.images import realsystem
from ctys.plugins.qemu.images.realsystem import (
    SECTOR,
    RealGuestImage,
    _write_boot_sectors,
    cached_image,
    debian_mirror,
    image_stamp,
)

DEB822 = """\
Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main

Types: deb
# a comment
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""


def test_mirror_from_deb822_skips_security_and_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CTYS_DEBIAN_MIRROR", raising=False)
    sources = tmp_path / "debian.sources"
    sources.write_text(DEB822)
    assert debian_mirror([tmp_path / "missing.list", sources]) == "http://mirror.example/debian"


def test_mirror_from_one_line_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CTYS_DEBIAN_MIRROR", raising=False)
    listing = tmp_path / "sources.list"
    listing.write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb http://deb.example/debian-security bookworm-security main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main contrib\n"
    )
    assert debian_mirror([listing]) == "http://one.example/debian"


def test_mirror_default_and_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CTYS_DEBIAN_MIRROR", raising=False)
    other = tmp_path / "x.list"
    other.write_text("deb https://packages.example/apt cloud-sdk main\n")
    assert debian_mirror([other]) == realsystem.DEFAULT_MIRROR
    monkeypatch.setenv("CTYS_DEBIAN_MIRROR", "http://local/debian")
    assert debian_mirror([other]) == "http://local/debian"


def test_boot_sectors_keep_the_partition_table(tmp_path: Path) -> None:
    raw = tmp_path / "disk.raw"
    mbr = bytearray(SECTOR)
    mbr[446:510] = b"P" * 64  # the partition table
    mbr[440:444] = b"SIGN"  # the disk signature
    mbr[510:] = b"\x55\xaa"
    raw.write_bytes(bytes(mbr) + bytes(SECTOR * 8))
    boot = b"B" * SECTOR
    core = b"C" * (SECTOR * 3)
    _write_boot_sectors(raw, boot, core)
    data = raw.read_bytes()
    assert data[:440] == b"B" * 440
    assert data[440:SECTOR] == bytes(mbr[440:])
    assert data[SECTOR : SECTOR * 4] == core  # sector 1: where boot.img looks by default
    assert data[SECTOR * 4 :] == bytes(SECTOR * 5)


def test_boot_sectors_refuse_what_does_not_fit(tmp_path: Path) -> None:
    raw = tmp_path / "disk.raw"
    raw.write_bytes(bytes(SECTOR))
    with pytest.raises(CtysError, match="not 512 bytes"):
        _write_boot_sectors(raw, b"x" * 100, b"")
    with pytest.raises(CtysError, match="does not fit the gap"):
        _write_boot_sectors(raw, bytes(SECTOR), bytes(SECTOR * realsystem.PART_START_SECTOR))


def test_stamp_names_the_cache_folder_and_changes_with_the_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cached_image(tmp_path) is None
    folder = tmp_path / f"bookworm_{image_stamp()}"
    folder.mkdir()
    (folder / "disk.qcow2").write_bytes(b"")
    assert cached_image(tmp_path) is None  # no key: not complete
    (folder / "id_ed25519").write_text("key")
    (folder / "build-seconds").write_text("123.4\n")
    found = cached_image(tmp_path)
    assert found == RealGuestImage(folder / "disk.qcow2", folder / "id_ed25519")
    assert found.build_seconds == 123.4
    before = image_stamp()
    monkeypatch.setattr(realsystem, "PACKAGES", (*realsystem.PACKAGES, "vim"))
    assert image_stamp() != before
    assert cached_image(tmp_path) is None


def test_building_needs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(realsystem.os, "geteuid", lambda: 1000)
    with pytest.raises(CtysError, match="needs root"):
        realsystem.build_real_guest(tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing left behind


def test_real_conf_is_an_overlay_with_the_forward(tmp_path: Path) -> None:
    from ctys.plugins.qemu.confs.mapping import load_vm_config
    from ctys.plugins.qemu.demo.realvm import write_real_conf
    from ctys.runcmd import run_command

    base = tmp_path / "base.qcow2"
    run_command(["qemu-img", "create", "-q", "-f", "qcow2", str(base), "64M"])
    image = RealGuestImage(base, tmp_path / "key")
    conf = write_real_conf(tmp_path / "vm", image, "vm", ssh_port=2299)
    vm = load_vm_config(conf)
    assert vm.label == "vm"
    assert [str(d) for d in vm.hdd] == [str(tmp_path / "vm" / "vm.qcow2")]
    text = conf.read_text()
    assert "#@#HOSTFWD = tcp:127.0.0.1:2299-:22\n" in text
    assert "#@#GUESTAGENT = yes\n" in text
    disk = tmp_path / "vm" / "vm.qcow2"
    inode = disk.stat().st_ino
    uuid_line = next(line for line in text.splitlines() if "UUID" in line)
    # Rewritten: the overlay (the guest's state) and the UUID stay.
    write_real_conf(tmp_path / "vm", image, "vm", ssh_port=2300, guest_agent=False)
    assert disk.stat().st_ino == inode
    assert uuid_line in conf.read_text()
    assert "#@#GUESTAGENT = no\n" in conf.read_text()


def test_mounts_left_below_the_build_folder_are_unmounted_deepest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mounts = tmp_path / "mounts"
    work = tmp_path / "w"
    mounts.write_text(
        f"proc {work}/root/proc proc rw 0 0\n"
        f"devpts {work}/root/dev/pts devpts rw 0 0\n"
        f"tmpfs {tmp_path}/w2/x tmpfs rw 0 0\n"
        "proc /proc proc rw 0 0\n"
    )
    ran: list[list[str]] = []
    monkeypatch.setattr(realsystem, "_run", lambda argv, **kw: ran.append(argv) or "")
    realsystem._unmount_below(work, mounts)
    assert ran == [
        ["umount", "--lazy", f"{work}/root/dev/pts"],
        ["umount", "--lazy", f"{work}/root/proc"],
    ]


def test_the_cloud_variant_has_its_own_folder_and_bakes_no_key(tmp_path: Path) -> None:
    assert realsystem.CLOUD.packages[0] == "cloud-init"
    assert realsystem.CLOUD.hostname != realsystem.HOSTNAME  # the seed's name shows
    base = tmp_path / f"bookworm_{image_stamp()}"
    cloud = tmp_path / f"bookworm-cloud_{image_stamp(realsystem.CLOUD)}"
    assert image_stamp(realsystem.CLOUD) != image_stamp()
    for folder in (base, cloud):
        folder.mkdir()
        (folder / "disk.qcow2").write_bytes(b"")
    assert cached_image(tmp_path) is None  # the base image needs its key
    found = cached_image(tmp_path, realsystem.CLOUD)  # the cloud one has none
    assert found is not None and found.disk == cloud / "disk.qcow2"
    # A rebuild of one variant removes that variant's old folders only.
    (tmp_path / "bookworm_0ld").mkdir()
    (tmp_path / "bookworm-cloud_0ld").mkdir()
    realsystem._remove_old_builds(tmp_path, realsystem.CLOUD)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [base.name, cloud.name, "bookworm_0ld"]
    )
    realsystem._remove_old_builds(tmp_path, realsystem.BASE)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([base.name, cloud.name])


def test_the_cloud_variant_reads_only_a_nocloud_seed() -> None:
    path, text = realsystem.CLOUD.files[0]
    assert path.startswith("/etc/cloud/cloud.cfg.d/99")  # read last: it wins over 90_dpkg
    # ds-identify reads the list only from one line.
    assert "datasource_list: [ NoCloud, None ]\n" in text


def test_main_refuses_an_unknown_variant(capsys: pytest.CaptureFixture[str]) -> None:
    assert realsystem.main(["clouds"]) == 2
    assert "unknown variant 'clouds'" in capsys.readouterr().err
