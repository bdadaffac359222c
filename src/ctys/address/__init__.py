"""Machine addresses: parsing (``model``), matching (``match``), conf-file scanning
(``scan``) and resolution through the inventory or a scan (``resolve``).

Layer: core, above ``inventory`` and ``conf``. Never imports ``ctys.cli``; the imports of
the QEMU plugin left (``vm_id``, runtime records, guest IP) are listed as debt in
pyproject.toml's ``[tool.importlinter]``."""
