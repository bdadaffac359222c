"""Plugin boundary: each hypervisor type is one plugin (``ctys.plugins`` entry points).

``base`` is the interface (``Plugin``, with ``ConfReader``: how the core finds a plugin's
VMs; ``RunContext``), ``registry`` finds plugins by entry point, and the built-in ones
(every sub-package here) by folder. Both are core: ``base`` imports ``ctys.conf``,
``ctys.invocation`` and ``ctys.errors``, ``registry`` only ``ctys.errors`` (and ``base``
for types). Each sub-package is one plugin: nothing outside it imports it."""
