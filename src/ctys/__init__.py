"""ctys: manage virtual machines with the ctys command line; each hypervisor is a plugin
(``ctys.plugins``)."""

__version__ = "0.1.0"
