"""The tiny test/demo guest: building its kernel + initrd image (``build``) and the demo VM's
folder and conf (``demo``).

Layer: core, beside ``remote``; imports ``conf`` and the utility modules, never ``ctys.cli``
(``ctys-demo``'s command line is ``ctys.cli.demo``)."""
