"""What this host's QEMU can do: binary detection (``detect``), the KVM probe and its kernel
stage (``kvmprobe``, ``kernelprobe``) and their cache (``capcache``).

May import the core and ``ctys.plugins.qemu.vm``; never ``ctys.cli``."""
