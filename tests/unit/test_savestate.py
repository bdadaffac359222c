"""Saving a VM's state to a file (``vm.savestate.save_to_file``): a migration QEMU refuses
is a ``SaveFailed`` with QEMU's words, so SUSPEND says the VM stays paused."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.qmp import QmpCommandFailed
from ctys.plugins.qemu.vm.savestate import SaveFailed, save_to_file

_BLOCKED = "State blocked by non-migratable device '0000:00:04.0/vhost-user-fs'"


class _Handle:
    """Just the three calls ``save_to_file`` makes."""

    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse
        self.fds: list[str] = []

    def send_fd(self, fd: int, name: str) -> None:
        self.fds.append(name)

    def command(self, command: str, arguments: dict[str, Any] | None = None) -> None:
        if self.refuse and command == "migrate":
            raise QmpCommandFailed(command, _BLOCKED)

    def query(self, command: str) -> dict[str, str]:
        return {"status": "completed"}


def test_a_refused_migration_is_a_save_failure_naming_the_file_and_qemus_reason(
    tmp_path: Path,
) -> None:
    target = tmp_path / "state"
    with pytest.raises(SaveFailed) as caught:
        save_to_file(cast(VmHandle, _Handle(refuse=True)), target, timeout=5)
    assert str(target) in str(caught.value)
    assert _BLOCKED in str(caught.value)
    assert target.stat().st_mode & 0o777 == 0o600  # the (empty) file made for qemu


def test_a_completed_migration_returns(tmp_path: Path) -> None:
    handle = _Handle(refuse=False)
    save_to_file(cast(VmHandle, handle), tmp_path / "state", timeout=5)
    assert len(handle.fds) == 1
