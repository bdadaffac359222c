"""Fixtures for the unit tests only (tests/conftest.py has the shared ones)."""

from otheruser import other_user  # noqa: F401 (fixture: run as nobody)
from tmpfs import full_fs, readonly_fs  # noqa: F401 (fixtures: tiny tmpfs mounts)
