"""Conf files: the plain-text truth about a VM (parsed, never executed): the generic parser
(``parser``), the VM mapping (``vmconfig``), where confs live (``vmpath``), new confs
(``newvm``, ``writer``).

Layer: core, below ``address`` and ``inventory``; imports only the utility modules
(``ctys.errors`` ...). ``vmconfig`` and ``newvm`` still import QEMU plugin modules (debt,
listed in pyproject.toml's ``[tool.importlinter]``)."""
