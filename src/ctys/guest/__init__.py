"""The tiny test/demo guest: building its kernel + initrd image (``build``) and the demo VM
(``demo``).

Layer: core, beside ``remote``; imports ``conf`` and the utility modules, never ``cli``."""
