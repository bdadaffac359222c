"""Shared fixtures: a private ctys environment per test (runtime dir, VM folder, TCG)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from support.env import private_ctys_env

# Property tests assert what is computed, never how fast: hypothesis's per-example deadline
# and its too-slow health check fail them on a loaded machine (CI shares 2 CPUs with VMs
# booting under TCG). Speed is measured in bench/.
settings.register_profile("ctys", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ctys")


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A temp dir with a short path: UNIX socket paths must stay under 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="ct", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def ctys_env(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for one test: own runtime dir and VM folder, TCG pinned."""
    env = private_ctys_env(short_tmp)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return {**os.environ, **env}
