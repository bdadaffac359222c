"""New QEMU VM conf files for ``ctys-createConfVM``: the answers rendered as conf text
(``writer``) and a new VM's folder with its disk image (``newvm``).

May import the core and ``ctys.plugins.qemu.boot`` (qemu-img); never ``ctys.cli``."""
