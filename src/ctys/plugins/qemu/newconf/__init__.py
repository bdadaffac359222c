"""New QEMU VM conf files: the answers rendered as conf text (``writer``), a new VM's folder
with its disk image (``newvm``) and the ``ctys-createConfVM`` command line (``cli``, the
console script's module).

May import the core and ``ctys.plugins.qemu.boot`` (qemu-img); never ``ctys.cli``."""
