"""Plugin boundary: each hypervisor type is one plugin (``ctys.plugins`` entry points).

``base`` is the interface (``Plugin``, with ``ConfReader``: how the core finds a plugin's
VMs; ``RunContext``), ``registry`` finds plugins by entry point (the built-in QEMU plugin
also by module name, a string). Both are core: ``base`` imports ``ctys.conf``,
``ctys.invocation`` and ``ctys.errors``, ``registry`` only ``ctys.errors`` (and ``base``
for types). ``qemu`` is the QEMU plugin: nothing outside it imports it."""
