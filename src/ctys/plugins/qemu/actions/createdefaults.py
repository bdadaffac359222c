"""What a CREATE that leaves something open takes from the VM's conf, as the original:
the console (``DEFAULTCONSOLE``, else VNC) and the boot mode (``DEFAULTBOOTMODE``, else
VHDD: the disk first, which is what qemu does without ``-boot``, so a conf without a disk
still boots its kernel or CD), and ``CONSOLE:VNC:<port>`` as the VM's VNC port."""

from __future__ import annotations

import dataclasses

from ctys.consoles.kinds import DEFAULT_CONSOLE, ConsoleKind, parse_console
from ctys.errors import UsageError, VmError
from ctys.plugins.qemu.boot.confkeys import conf_value
from ctys.plugins.qemu.requests import CreateRequest, bootspec_of
from ctys.plugins.qemu.vmconfig import VmConfig


def with_conf_defaults(req: CreateRequest, vm: VmConfig) -> tuple[CreateRequest, VmConfig]:
    """``req`` with the conf's default console and boot mode where it names none, and
    ``vm`` with the VNC port ``CONSOLE:VNC:<port>`` asks for; a bad default in the conf is
    a ``VmError`` naming the conf and the key."""
    changes: dict[str, object] = {}
    if not req.console_given:
        changes["console"] = _default_console(vm)
        changes["console_given"] = True
    if req.boot is None and req.install is None and req.kernel is None:
        boot = conf_value(vm, "DEFAULTBOOTMODE")
        if boot is not None:
            try:
                changes["boot"] = bootspec_of(tuple(boot.text.split("%")), boot.text)
            except UsageError as exc:
                raise VmError(f"{vm.conf_path}: {boot.name}: {exc}") from None
    if req.vnc_port is not None:
        if vm.vncport is not None and vm.vncport != req.vnc_port:
            # As the original ("Different VNCACCESSPORT detected"): one port per VM.
            raise VmError(
                f"CONSOLE:VNC:{req.vnc_port}: VM {vm.label} has VNC port {vm.vncport} in"
                f" {vm.conf_path}; give that one or none"
            )
        vm = dataclasses.replace(vm, vncport=req.vnc_port)
    return (dataclasses.replace(req, **changes) if changes else req), vm  # type: ignore[arg-type]


def _default_console(vm: VmConfig) -> ConsoleKind:
    found = conf_value(vm, "DEFAULTCONSOLE")
    if found is None:
        return DEFAULT_CONSOLE
    try:
        return parse_console(found.text)
    except UsageError as exc:
        raise VmError(f"{vm.conf_path}: {found.name}: {exc}") from None
