"""Conf files: the plain-text truth about a VM (parsed, never executed): the generic parser
(``parser``, giving a ``RawConf``), what a parsed conf is (``rawconf``: ``RawConf``,
``ConfMode``), where confs live (``vmpath``). What a conf means for one hypervisor (QEMU's
``VmConfig`` and its mapping) belongs to that hypervisor's plugin.

Layer: core, below ``address`` and ``inventory``; imports only the utility modules
(``ctys.errors`` ...)."""
