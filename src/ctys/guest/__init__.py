"""The tiny test/demo guest: building its kernel + initrd image (``build``) and the demo VM
(``demo``).

Layer: core, beside ``remote``; imports ``conf`` and the utility modules. ``demo`` is the
``ctys-demo`` entry point and imports ``ctys.cli`` (exits, safeout): debt, listed in
pyproject.toml's ``[tool.importlinter]``."""
