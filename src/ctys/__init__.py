"""ctys: manage virtual machines with the ctys command line; each hypervisor is a plugin
(``ctys.plugins``).

Packages and modules, top to bottom (docs/architecture.md; ``lint-imports`` checks them):
``cli/`` (the command-line entry points; nothing imports it) beside the plugin packages under
``plugins/`` (found by the registry; nothing imports them), then the core:
``remote``/``guest``, ``address``, ``inventory``, ``conf``/``consoles``/``plugins.registry``,
``plugins.base``, what every entry point and plugin shares (``argscan``, ``tables``,
``runguard``), the utilities (``invocation``, ``rundir``, ``filelock``, ``runcmd``,
``privfile``, ``pathutil``, ``safestream``, ``stdstreams``, ``stopsignals``),
``atomicfile``/``textescape``, and ``errors`` (the exception hierarchy and the
``ExitStatus`` enum)."""

__version__ = "0.1.0"
