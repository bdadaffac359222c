"""Shell completion of ctys command lines (bash, zsh, fish): the words come from the
plugins (``catalog``: actions and suboption keys, cached), ``ctys.argscan`` (``options``),
the inventory, ssh's files and the host group folders (``sources``); ``engine`` picks them
for one word, ``live`` reads the real ones, ``shellout`` prints them for a shell. The shell
scripts (``shells/``) call ``ctys-complete`` and never evaluate what it prints.

Layer: core, beside ``ctys.remote``; imports the registry only when the plugin catalog's
cache is stale."""
