"""Conf files: the plain-text truth about a VM (parsed, never executed): the generic parser
(``parser``, giving a ``RawConf``), the typed values (``vmtypes``: ``RawConf``, ``VmConfig``
and its enums), the mapping from a parsed conf to a ``VmConfig`` (``mapping``), where confs
live (``vmpath``). New confs are written by the QEMU plugin (``ctys.plugins.qemu.newconf``).

QEMU-specific and still here (debt, issue 10): ``VmConfig`` and ``Accelerator`` (KVM/TCG,
``-machine``, the qemu binary, qemu ``ARGS``) and ``mapping`` (NICs by the QEMU plugin's
rules). ``parser``, ``RawConf``, ``ConfMode`` and ``vmpath`` know no hypervisor.

Layer: core, below ``address`` and ``inventory``; imports only the utility modules
(``ctys.errors`` ...). ``mapping`` still imports ``ctys.plugins.qemu.net.network`` (debt,
listed in pyproject.toml's ``[tool.importlinter]``)."""
