"""The command line: argv scanning (``argscan``), the entry points (``main``, ``vhost``,
``createconf``), dispatch to plugins and hosts, output formatting, exit codes, signals.

Layer: top, beside the plugins. May import the core (``ctys.invocation``, ``conf``,
``inventory``, ``remote``, ``plugins.base``/``registry`` ...); not ``ctys.plugins.qemu``
(the registry loads plugins by name; today's exceptions are listed in pyproject.toml's
``[tool.importlinter]``)."""
