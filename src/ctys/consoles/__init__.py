"""Consoles: the serial console attacher (``serial``), console kinds (``kinds``) and the
terminal/VNC viewer launchers (``launchers``).

Layer: core; imports only ``ctys.errors`` and ``ctys.textescape``."""
