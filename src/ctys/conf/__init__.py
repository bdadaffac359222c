"""Conf files: the plain-text truth about a VM (parsed, never executed): the generic parser
(``parser``, giving a ``RawConf``), what a parsed conf is (``rawconf``: ``RawConf``,
``ConfMode``), a VM found by its conf as every plugin describes it (``found``: ``FoundVm``,
the ``MAGICID-IGNORE`` marker), where confs live (``vmpath``). What a conf means for one
hypervisor (its own VM model and the mapping to it) belongs to that hypervisor's plugin.

Layer: core, below ``address``, ``plugins.base`` and ``inventory``; imports only the
utility modules (``ctys.errors`` ...)."""
