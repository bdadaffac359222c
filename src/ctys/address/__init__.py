"""Machine addresses: parsing (``model``), matching (``match``), conf-file scanning
(``scan``), resolution through the inventory or a scan (``resolve``) and the runtime ID
of a VM (``vmid``).

Layer: core, above ``inventory`` and ``conf``. Never imports ``ctys.cli``; the imports of
the QEMU plugin left (runtime records, guest IP for ``IP:``) are listed as debt in
pyproject.toml's ``[tool.importlinter]``."""
