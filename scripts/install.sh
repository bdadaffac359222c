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
    ovmf xorriso isolinux syslinux-common mtools dosfstools fdisk \
    man-db bash-completion zsh fish
# man-db, bash-completion: `man ctys` and Tab completion; zsh and fish: the completion tests
# run their scripts in the real shells.
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

# Manual pages, generated from docs/*.md (tools/manpages), and the shell completion scripts
# (src/ctys/completion/shells), into the venv's share/ (docs/completion.md).
PYTHONPATH=tools .venv/bin/python -m manpages.build --out .venv/share/man
shells=src/ctys/completion/shells
install -D -m 644 "$shells/ctys.bash" .venv/share/bash-completion/completions/ctys
install -D -m 644 "$shells/_ctys" .venv/share/zsh/site-functions/_ctys
install -D -m 644 "$shells/ctys.fish" .venv/share/fish/vendor_completions.d/ctys.fish
# Where man and the shells look without any setting: as root, symlinks in the system's
# local folders; else in the user's own (man finds ~/.local/share/man when ~/.local/bin is
# on PATH; otherwise MANPATH, printed below).
link() { mkdir -p "$(dirname "$2")" && ln -sfn "$PWD/$1" "$2"; }
if [ "$(id -u)" = 0 ]; then
    for page in .venv/share/man/man*/*; do
        link "$page" "/usr/local/share/man/${page#.venv/share/man/}"
    done
    link .venv/share/bash-completion/completions/ctys /usr/share/bash-completion/completions/ctys
    link .venv/share/zsh/site-functions/_ctys /usr/local/share/zsh/site-functions/_ctys
    link .venv/share/fish/vendor_completions.d/ctys.fish /usr/share/fish/vendor_completions.d/ctys.fish
    mandb -q 2>/dev/null || true
else
    for page in .venv/share/man/man*/*; do
        link "$page" "$HOME/.local/share/man/${page#.venv/share/man/}"
    done
    link .venv/share/bash-completion/completions/ctys "$HOME/.local/share/bash-completion/completions/ctys"
    link .venv/share/fish/vendor_completions.d/ctys.fish "$HOME/.config/fish/completions/ctys.fish"
    echo "man pages: $HOME/.local/share/man (if man does not find them:" \
        "export MANPATH=\"$HOME/.local/share/man:\"); zsh: fpath+=($PWD/.venv/share/zsh/site-functions)"
fi
