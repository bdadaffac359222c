"""Running ctys on other hosts: ssh argv building, parallel fan-out, merging results,
host placement for CREATE.

Layer: core, the highest core package: may import ``address``, ``inventory``, ``consoles``,
``conf`` and the utilities. Its imports of ``ctys.cli.argscan`` and of the QEMU plugin
(placement's ``INFO=LOAD``, ``whereruns``) are debt, listed in pyproject.toml's
``[tool.importlinter]``."""
