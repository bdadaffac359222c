"""Shared folders (``#@#SHARE<n> = HOSTDIR%TAG[%ro]``): the conf keys as typed values
(``shareconf``), the transport per share and the qemu/virtiofsd argv (``shareargv``), the
virtiofsd daemons of a running VM (``fsdaemon``) and the read-only launcher (``romount``).

May import the core, ``ctys.plugins.qemu.vmconfig`` and ``ctys.plugins.qemu.vm``; never
``ctys.cli``."""
