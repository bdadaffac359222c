"""The command line: only the entry points. ``main`` (the ``ctys`` script: argv into an
``Invocation`` with ``ctys.argscan``, help, ``-V``), ``helptext``, ``dispatch`` (to the
plugin here or to the targets over ssh), ``vhost`` (``ctys-vhost``) and ``demo``
(``ctys-demo``). ``ctys-createConfVM`` is the QEMU plugin's own
(``ctys.plugins.qemu.newconf.cli``).

Layer: top, beside the plugins. May import the core (``ctys.argscan``, ``tables``,
``runguard``, ``safestream``, ``invocation``, ``conf``, ``inventory``, ``remote``, ``guest``,
``plugins.base``/``registry`` ...), never ``ctys.plugins.qemu`` (the registry loads plugins
by name). Nothing imports ``ctys.cli`` but ``ctys.__main__``: what an entry point shares with
the core or a plugin lives in the core (``lint-imports`` and ``tests/unit/test_layers.py``
check it)."""
