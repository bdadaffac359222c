"""ctys: manage QEMU/KVM virtual machines with the ctys command line.

Packages and modules, top to bottom (docs/architecture.md; ``lint-imports`` checks them):
``cli/`` (the command-line entry points; nothing imports it) beside ``plugins/qemu/`` (the
QEMU plugin; nothing imports it), then the core: ``remote``/``guest``, ``address``,
``inventory``, ``conf``/``consoles``/``plugins.registry``, ``plugins.base``, what every
entry point and plugin shares (``argscan``, ``tables``, ``runguard``), the utilities
(``invocation``, ``rundir``, ``filelock``, ``runcmd``, ``privfile``, ``pathutil``,
``safestream``, ``stdstreams``, ``stopsignals``), ``atomicfile``/``textescape``, and
``errors`` (the exception hierarchy and the ``ExitStatus`` enum)."""

__version__ = "0.1.0"
