"""The command line: only the entry points. ``main`` (the ``ctys`` script: argv into an
``Invocation`` with ``ctys.argscan``, help, ``-V``), ``helptext``, ``dispatch`` (to the
plugin here or to the targets over ssh), ``vhost`` (``ctys-vhost``) and ``demo``
(``ctys-demo``). A plugin's own commands (``ctys-createConfVM``) live in the plugin, named
by their console script.

Layer: top, beside the plugins. May import the core (``ctys.argscan``, ``tables``,
``runguard``, ``safestream``, ``invocation``, ``conf``, ``inventory``, ``remote``, ``guest``,
``plugins.base``/``registry`` ...), never a plugin package (the registry loads plugins by
entry point). Nothing imports ``ctys.cli`` but ``ctys.__main__``: what an entry point
shares with the core or a plugin lives in the core (``lint-imports`` and
``tests/unit/test_layers.py`` check it)."""
