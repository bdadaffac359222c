"""ctys.plugins.qemu.boot."""
