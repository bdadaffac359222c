"""Plugin boundary: each hypervisor type is one plugin (``ctys.plugins`` entry points).

``base`` is the interface (``Plugin``, ``RunContext``), ``registry`` finds plugins by entry
point (the built-in QEMU plugin also by module name, a string). Both are core and import
only ``ctys.invocation`` and ``ctys.errors``. ``qemu`` is the QEMU plugin: nothing outside
it imports it."""
