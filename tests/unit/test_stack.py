"""VM-STACK: which VMs are hypervisors, where their inner VMs are reached, what they get."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctys.conf.parser import parse_conf_text
from ctys.errors import CtysError
from ctys.plugins.qemu.actions.stack import inner_mode, stack_target, stack_target_of_conf
from ctys.plugins.qemu.cancelreq import CancelMode
from ctys.plugins.qemu.confs.mapping import vm_config_from_raw


def vm(text: str):  # type: ignore[no-untyped-def]
    return vm_config_from_raw(parse_conf_text("#@#MAGICID-QEMU\n" + text, Path("/v/hv.conf")))


@pytest.mark.parametrize(
    ("text", "inner"),
    [
        ("#@#LABEL = plain\n", None),
        ("#@#STACKCAP = QEMU\n#@#STACKHOST = admin@hv1.lan\n", "admin@hv1.lan"),
        ("#@#STACKCAP = QEMU\n#@#IP = 10.1.0.7/24\n", "10.1.0.7"),
        ("#@#STACKCAP = QEMU\n", None),  # a hypervisor nobody can reach: no stack
        ("#@#STACKHOST = hv1\n", None),  # not a hypervisor
    ],
)
def test_stack_target(text: str, inner: str | None) -> None:
    assert stack_target(vm(text)) == inner


def test_gone_or_broken_conf_has_no_stack(tmp_path: Path) -> None:
    assert stack_target_of_conf(str(tmp_path / "missing.conf")) is None
    bad = tmp_path / "bad.conf"
    bad.write_text("#@#MAGICID-QEMU\nX=$(id)\n")
    assert stack_target_of_conf(str(bad)) is None


@pytest.mark.parametrize(
    ("outer", "inner"),
    [
        (CancelMode.POWEROFF, CancelMode.POWEROFF),
        (CancelMode.REBOOT, CancelMode.POWEROFF),
        (CancelMode.RESET, CancelMode.POWEROFF),
        (CancelMode.INIT, CancelMode.POWEROFF),
        (CancelMode.PAUSE, None),
        (CancelMode.SUSPEND, None),
    ],
)
def test_inner_mode(outer: CancelMode, inner: CancelMode | None) -> None:
    assert inner_mode(outer) is inner


def test_a_vm_cannot_host_its_own_host() -> None:
    from ctys.plugins.qemu.actions.stack import cancel_inner

    with pytest.raises(CtysError, match="is this host"):
        cancel_inner("localhost", CancelMode.POWEROFF, 1)
