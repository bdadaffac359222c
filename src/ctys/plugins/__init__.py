"""Plugin boundary: each hypervisor type is one plugin (``ctys.plugins`` entry points).

``base`` is the interface (``Plugin``, ``RunContext``), ``registry`` finds plugins by entry
point, and the built-in ones (every sub-package here) by folder. Both are core and import
only ``ctys.invocation`` and ``ctys.errors``. Each sub-package is one plugin: nothing outside
it imports it."""
