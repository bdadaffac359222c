"""QEMU VM confs: the mapping of a parsed conf (``ctys.conf.rawconf.RawConf``) to QEMU's
``ctys.plugins.qemu.vmconfig.VmConfig`` (``mapping``; its NICs by ``net.network``'s rules).

A layer of the plugin above ``host | net | vncaddr`` and ``vm | vmconfig``; may import
those and the core, never ``ctys.cli``."""
