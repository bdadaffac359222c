"""What one boot of a QEMU VM is made of: the qemu argv (``argv``), boot media
(``bootspec``), ``INSTMODE`` and qemu-img (``instmode``), checks before the start
(``preflight``) and who may boot a conf that runs host programs (``hostexec``,
``execpolicy``).

May import the core and ``ctys.plugins.qemu.net``/``vm``; never ``ctys.cli``."""
