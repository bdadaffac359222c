"""Conf files: the plain-text truth about a VM (parsed, never executed)."""
