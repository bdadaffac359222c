"""The QEMU plugin's guest images for the tests, the bench and the demos, built once per
machine under a lock and cached outside the repository: the tiny kernel + busybox initramfs
guest (``build``, its ``init.sh``), the real Debian system disk (``realsystem``: debootstrap,
GRUB, qcow2) and installer/boot media (``media``: the installer ISO, the PXE tree, an ESP).

Layer: the plugin's lowest, beside ``vm``; imports only the core's utility modules."""
