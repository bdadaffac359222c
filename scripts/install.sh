#!/usr/bin/env bash
# Install what ctys needs on a Debian machine: QEMU, the tools that build the test guest,
# OpenSSH, and the Python package with its test extras in ./.venv.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
    qemu-system-x86 qemu-utils busybox-static cpio openssh-server openssh-client vde2 \
    python3-venv python3-pip ca-certificates \
    ovmf xorriso isolinux syslinux-common mtools dosfstools fdisk
# The cloud kernel of the test guest, the Debian installer (netboot) and systemd-boot for the
# test media are fetched by `apt-get download` into the user's cache (ctys.plugins.qemu.images.build/media).
# The real system guest (ctys-demo --real, tests/e2e/test_realguest_e2e.py): debootstrap,
# GRUB's BIOS images, sfdisk and mkfs.ext4 build its disk without a loop device.
$SUDO apt-get install -y -q --no-install-recommends debootstrap grub-pc-bin fdisk e2fsprogs

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
