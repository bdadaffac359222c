"""Plugin boundary: each hypervisor type is one plugin (``ctys.plugins`` entry points)."""
