"""Machine addresses: parsing (``model``), matching (``match``), conf-file scanning
(``scan``), resolution through the inventory or a scan (``resolve``) and the runtime ID
of a VM (``vmid``). Scan and resolution know no hypervisor: the caller hands them the
plugins whose VMs they look for (``ctys.plugins.base.ConfReader``), which describe each
conf as a ``ctys.conf.found.FoundVm``.

Layer: core, above ``plugins.base``, ``inventory`` and ``conf``. Never imports ``ctys.cli``
or a plugin package."""
