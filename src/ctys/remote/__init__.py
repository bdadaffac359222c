"""Running ctys on other hosts: ssh argv building, parallel fan-out, per-host results,
placement on the least loaded host, each by the rules the plugin gives
(``ctys.plugins.base``: ``MergedAction``, ``Placement``).

Layer: core, the highest core package: may import ``address``, ``inventory``, ``consoles``,
``conf`` and the utilities (``options`` re-scans a target's argv with ``ctys.argscan``);
never ``ctys.cli``."""
