"""Fixtures for the unit tests only (tests/conftest.py has the shared ones)."""

from tmpfs import full_fs, readonly_fs  # noqa: F401 (fixtures: tiny tmpfs mounts)
