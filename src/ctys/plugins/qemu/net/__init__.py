"""ctys.plugins.qemu.net."""
