"""VM-STACK: a VM that itself runs VMs (a nested hypervisor) is cancelled inside out.

A VM is a hypervisor when its conf says so with ``#@#STACKCAP`` naming a session type
(e.g. ``QEMU``). Its guest is reached as a ctys target: ``#@#STACKHOST`` (an ssh host name,
``user@host`` allowed), else its ``#@#TCP``/``#@#IP`` address. Before such a VM goes down,
``CANCEL=ALL`` runs on that target — and the ctys there does the same for its own
hypervisor VMs, so a whole stack is taken down from the top.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ctys.errors import CtysError
from ctys.plugins.qemu.cancelreq import CancelMode
from ctys.plugins.qemu.confs.mapping import load_vm_config
from ctys.plugins.qemu.vm import SESSION_TYPE
from ctys.plugins.qemu.vmconfig import VmConfig


@dataclass(frozen=True)
class InnerResult:
    """What CANCEL=ALL on the inner target said."""

    target: str
    ok: bool
    lines: tuple[str, ...]


def stack_target(vm: VmConfig) -> str | None:
    """The target that reaches the VMs running inside ``vm``; ``None`` when ``vm`` is not
    a hypervisor."""
    if vm.raw is None:
        return None
    keys = vm.raw.keys
    if not keys.get("STACKCAP", "").strip():
        return None
    inner = keys.get("STACKHOST", "").strip() or (vm.ip or "").split("/")[0]
    return inner or None


def stack_target_of_conf(conf: str) -> str | None:
    """Like ``stack_target`` for a conf path from a runtime record; a conf that is gone or
    broken has no stack (its VM is then cancelled on its own)."""
    try:
        return stack_target(load_vm_config(Path(conf)))
    except (CtysError, OSError):
        return None


def inner_mode(mode: CancelMode) -> CancelMode | None:
    """What the inner VMs get: they go down with their host (POWEROFF, for a REBOOT,
    RESET or INIT of the host too); pausing or suspending the host holds them inside its
    own state (none). FORCE skips them altogether (``actions.cancel``)."""
    if mode in (CancelMode.PAUSE, CancelMode.SUSPEND):
        return None
    return CancelMode.POWEROFF


def cancel_inner(target_name: str, mode: CancelMode, timeout: float) -> InnerResult:
    """Run ``CANCEL=ALL,<mode>,TIMEOUT:<timeout>`` on the inner target over ssh."""
    from ctys.argscan import parse_target
    from ctys.remote.fanout import RemoteSettings, run_on_targets
    from ctys.remote.ssh import default_control_dir, ssh_argv

    target = parse_target(target_name)
    if target.is_local:
        raise CtysError(f"STACKHOST {target_name} is this host: a VM cannot host its own host")
    settings = RemoteSettings.from_env()
    remote = ["-t", SESSION_TYPE, "-a", f"CANCEL=ALL,{mode.value},TIMEOUT:{timeout:g}"]
    [result] = run_on_targets(
        [target],
        lambda t: ssh_argv(
            t,
            remote,
            user=None,
            pty=False,
            connect_timeout=settings.connect_timeout,
            control_dir=default_control_dir(),
        ),
        timeout=timeout * 2 + settings.connect_timeout + 30,
    )
    text = (result.stdout + result.stderr).strip()
    lines = tuple(f"{target_name}: {line}" for line in text.splitlines() if line.strip())
    if result.error:
        lines = (*lines, f"{target_name}: {result.error}")
    return InnerResult(target_name, result.returncode == 0 and not result.error, lines)
