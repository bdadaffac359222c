#!/bin/sh
# /init of the ctys test guest (busybox sh, runs as PID 1 from the initramfs).
#
# Kernel command line:
#   ctys.noacpi=1          ignore the ACPI power button (a guest that will not shut down)
#   ctys.ip=ADDR/PREFIX    address for eth0, when the VM has a (virtio) NIC
# Console protocol (tests read it):
#   "CTYS-GUEST-READY"           boot finished, a shell with prompt "guest# " follows
#   "CTYS-GUEST: power button"   power button pressed, the guest powers off at once
# PID 1 must never exit (the kernel would panic), so the serial shell is respawned forever.

export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PS1='guest# '
export HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
# Keep late kernel messages (module loads, NIC links) out of the interactive shell.
dmesg -n 1

# Print one line on every active console: /dev/console is only the last console= given.
say() {
    for tty in $(cat /sys/class/tty/console/active); do
        echo "$*" >"/dev/$tty"
    done
}

noacpi=0
ip_addr=""
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        ctys.noacpi=1) noacpi=1 ;;
        ctys.ip=*) ip_addr="${arg#ctys.ip=}" ;;
    esac
done

# Built by build.py in dependency order (power button, evdev, virtio-net).
for module in /lib/modules/*.ko; do
    [ -e "$module" ] && insmod "$module" 2>/dev/null
done

ip link set lo up
if [ -n "$ip_addr" ] && [ -e /sys/class/net/eth0 ]; then
    ip link set eth0 up
    ip addr add "$ip_addr" dev eth0
fi

if [ "$noacpi" != 1 ]; then
    # busybox acpid maps the power button (KEY_POWER on /dev/input/event*) to the action
    # PWRF/00000080 and runs /etc/acpi/PWRF/00000080.
    mkdir -p /etc/acpi/PWRF
    cat >/etc/acpi/PWRF/00000080 <<'EOF'
#!/bin/sh
for tty in $(cat /sys/class/tty/console/active); do
    echo "CTYS-GUEST: power button" >"/dev/$tty"
done
poweroff -f
EOF
    chmod 755 /etc/acpi/PWRF/00000080
    acpid -c /etc/acpi -l /tmp/acpid.log
fi

# Run a shell with job control on TTY forever (respawned when it exits).
shell_loop() {
    while true; do
        # setsid -c makes the tty the shell's controlling terminal (job control, ^C);
        # cttyhack would pick the last console= instead of this tty.
        setsid -c sh <"/dev/$1" >"/dev/$1" 2>&1
        sleep 1
    done
}

serial=""
for tty in $(cat /sys/class/tty/console/active); do
    case "$tty" in
        ttyS*) serial="$tty" ;;
        # A VGA console (console=tty0) gets its own shell on tty1, for screen tests.
        tty0) shell_loop tty1 & ;;
    esac
done

say "CTYS-GUEST-READY"
if [ -n "$serial" ]; then
    shell_loop "$serial"
fi
# No serial console: keep PID 1 alive (and reaping) without a shell of its own.
while true; do
    sleep 3600
done
