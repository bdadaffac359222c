"""Running QEMU VMs: the lifecycle of one managed qemu as free functions over its pid and
runtime folder (``lifecycle``), its monitors (``qmp``, ``hmp``), the per-VM runtime folders
and records (``runtime``), the logs of finished runs (``runlogs``), qemus in the process
table (``processes``) and what a running qemu's command line says (``cmdline``).

The plugin's lowest layer: may import the core only; never ``ctys.cli``."""

SESSION_TYPE = "QEMU"  # the plugin's name: ``-t QEMU``, the records' STYPE
