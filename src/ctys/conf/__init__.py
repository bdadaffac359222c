"""Conf files: the plain-text truth about a VM (parsed, never executed): the generic parser
(``parser``), the typed VM (``model``), the VM mapping (``vmconfig``), where confs live
(``vmpath``). New confs are written by the QEMU plugin (``ctys.plugins.qemu.newconf``).

Layer: core, below ``address`` and ``inventory``; imports only the utility modules
(``ctys.errors`` ...). ``vmconfig`` still imports ``ctys.plugins.qemu.net.network`` (debt,
listed in pyproject.toml's ``[tool.importlinter]``)."""
