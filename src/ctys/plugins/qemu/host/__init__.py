"""ctys.plugins.qemu.host."""
