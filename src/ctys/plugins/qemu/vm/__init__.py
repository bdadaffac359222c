"""ctys.plugins.qemu.vm."""
