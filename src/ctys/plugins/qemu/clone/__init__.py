"""``ctys-cloneVM``: copy a QEMU VM into a new folder with a new label, UUID and MACs
(docs/cloneVM.md)."""
