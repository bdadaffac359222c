#!/usr/bin/env bash
# One command from a fresh Debian machine to a running demo VM: install, build the tiny
# guest (Debian cloud kernel + busybox initramfs), write ~/qemu/demo/demo.conf, boot it
# with its serial console on a UNIX socket, and show it in LIST.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/ctys-demo
# TCG: the demo must run on machines whose KVM is missing or broken.
.venv/bin/ctys -t QEMU -a CREATE=l:demo,CONSOLE:CLI,WAIT:CTYS-GUEST-READY -b 1
.venv/bin/ctys -t QEMU -a LIST
cat <<'TXT'

The demo VM runs. Next:
  .venv/bin/ctys -t QEMU -a CREATE=l:demo,CONNECT      # attach to its console (Ctrl-] detaches)
  .venv/bin/ctys -t QEMU -a CANCEL=l:demo              # ACPI power-off
TXT
