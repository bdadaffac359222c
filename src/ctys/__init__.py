"""ctys: manage QEMU/KVM virtual machines with the ctys command line."""

__version__ = "0.1.0"
