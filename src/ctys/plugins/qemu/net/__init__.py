"""Guest networking: NICs as typed values and their qemu arguments (``network``), the
conf keys (``netconf``), VDE switches and tap/bridge rights (``vde``), a guest's IP
(``guestip``).

May import the core and ``ctys.plugins.qemu.vm``; never ``ctys.cli``."""
