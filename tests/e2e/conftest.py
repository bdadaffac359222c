"""End-to-end fixtures: the real tiny guest and the real Debian guest, VM folders, the ctys
CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sshhosts import SshHosts

from ctys.plugins.qemu.demo.demovm import write_demo_conf
from ctys.plugins.qemu.images.build import GuestImage, build_guest
from ctys.plugins.qemu.images.realsystem import RealGuestImage, build_real_guest, cached_image
from support.cli import Ctys, run_ctys
from support.procs import kill_qemus, kill_switches


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def guest() -> GuestImage:
    """The tiny Linux guest (Debian cloud kernel + busybox initramfs), cached outside the repo."""
    return build_guest()


@pytest.fixture(scope="session")
def real_image() -> RealGuestImage:
    """The real system guest, built once per machine (``.ci/run`` builds it first)."""
    found = cached_image()
    if found is not None:
        return found
    if os.geteuid() != 0:
        pytest.skip("the real system guest is not built and building it needs root")
    return build_real_guest()


@pytest.fixture
def make_vm(guest: GuestImage, ctys_env: dict[str, str]) -> Callable[..., Path]:
    """Write a VM folder under the test's VM path: ``make_vm("vm1", noacpi=True)``."""
    vms = Path(ctys_env["CTYS_VMPATH"])

    def make(label: str, *, noacpi: bool = False, extra_append: str = "") -> Path:
        return write_demo_conf(vms / label, guest, label, noacpi=noacpi, extra_append=extra_append)

    return make


@pytest.fixture(autouse=True)
def reap_qemu(ctys_env: dict[str, str]) -> Iterator[None]:
    """After each e2e test, kill every qemu and VDE switch that still uses the test's
    runtime dir (a failed test leaves neither behind)."""
    yield
    kill_qemus(ctys_env["CTYS_RUNTIME_DIR"])
    kill_switches(ctys_env["CTYS_RUNTIME_DIR"])


@pytest.fixture
def ctys(ctys_env: dict[str, str]) -> Ctys:
    """Run the real ``ctys`` command line in a subprocess."""

    def run(
        *args: str, timeout: float = 60, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_ctys(*args, env=ctys_env, timeout=timeout, stdin=stdin)

    return run


@pytest.fixture
def ssh_hosts(ctys_env: dict[str, str]) -> Iterator[SshHosts]:
    """Real sshd test hosts on loopback (see ``sshhosts.py``): ``ssh_hosts(2)`` starts
    ``hostA`` and ``hostB``; ``ssh_hosts.refusing()/hanging()/noctys()/stuck()`` add fault hosts;
    ``ssh_hosts.remote_env`` is what a local ctys needs to reach them. All stopped and
    removed (their qemus killed) after the test."""
    hosts = SshHosts()
    try:
        yield hosts
    finally:
        hosts.close()


@pytest.fixture
def rctys(ctys_env: dict[str, str], ssh_hosts: SshHosts) -> Ctys:
    """Like ``ctys``, with the environment that reaches the ``ssh_hosts``; ``extra_env``
    adds variables for one call (e.g. ``CTYS_TARGET_TIMEOUT``)."""
    env = {**ctys_env, **ssh_hosts.remote_env}

    def run(
        *args: str,
        timeout: float = 90,
        stdin: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return run_ctys(*args, env={**env, **(extra_env or {})}, timeout=timeout, stdin=stdin)

    return run
