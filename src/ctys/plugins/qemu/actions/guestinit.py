"""CANCEL=...,INIT:<n>: change the guest's run level (``telinit <n>``) from inside the
guest, as the original did: through the QEMU guest agent when its socket answers, else over
ssh into the guest (its ``#@#IP``/``#@#TCP`` address, ``#@#SSHPORT``, ``USER:``) with your
keys or ssh-agent only (``BatchMode``). The hypervisor has no run levels: neither way
reachable is an error that says so."""

from __future__ import annotations

from pathlib import Path

from ctys.errors import CommandError, CtysError, VmStateError
from ctys.plugins.qemu.confs.mapping import load_vm_config
from ctys.plugins.qemu.vm import qga
from ctys.plugins.qemu.vm.runtime import RuntimeRecord, VmRuntimeDir
from ctys.runcmd import run_command

SSH_CONNECT_TIMEOUT = 5


def init_argv(level: str) -> list[str]:
    """The command run in the guest."""
    return ["telinit", level]


def guest_ssh_argv(
    address: str, level: str, *, port: int | None = None, user: str | None = None
) -> list[str]:
    """The ssh argv that runs ``telinit <level>`` in the guest (no password prompt:
    ``BatchMode``); the address is one argv word after ``--``."""
    argv = ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={SSH_CONNECT_TIMEOUT}"]
    if port is not None:
        argv += ["-p", str(port)]
    if user:
        argv += ["-l", user]
    return [*argv, "--", address, *init_argv(level)]


def _ssh_route(record: RuntimeRecord) -> tuple[str, int | None] | None:
    """The guest's ssh address and port from its record and conf; ``None`` without one."""
    address = (record.ip or "").split("/")[0].strip()
    port: int | None = None
    try:
        raw = load_vm_config(Path(record.conf)).raw
    except (CtysError, OSError):
        raw = None
    if raw is not None:
        address = address or raw.keys.get("TCP", "").split(",")[0].strip()
        text = raw.keys.get("SSHPORT", "").strip()
        port = int(text) if text.isdigit() else None
    return (address, port) if address else None


def init_guest(
    rundir: VmRuntimeDir, record: RuntimeRecord, level: str, user: str | None, timeout: float
) -> str:
    """``telinit <level>`` in the guest of ``record``; what CANCEL prints."""
    agent = rundir.path / qga.QGA_SOCKET_NAME
    why_not: list[str] = []
    if agent.exists():
        try:
            code = qga.exec_in_guest(agent, init_argv(level), timeout=min(max(timeout, 2.0), 10.0))
        except CtysError as exc:
            why_not.append(str(exc))
        else:
            if code not in (0, None):
                raise VmStateError(f"telinit {level} in the guest exited with status {code}")
            return f"run level {level} asked for (telinit {level}, through the guest agent)"
    else:
        why_not.append("no guest agent socket")
    route = _ssh_route(record)
    if route is None:
        why_not.append("no guest address for ssh (#@#IP or #@#TCP)")
        raise VmStateError(
            f"INIT:{level} runs inside the guest, which cannot be reached: {'; '.join(why_not)}"
        )
    address, port = route
    try:
        run_command(guest_ssh_argv(address, level, port=port, user=user), timeout=timeout + 10)
    except CommandError as exc:
        if exc.returncode != 255:  # 255: ssh itself failed; else the guest's telinit did
            raise VmStateError(f"telinit {level} in the guest failed: {exc}") from exc
        why_not.append(f"ssh {address}: {exc}")
        raise VmStateError(
            f"INIT:{level} runs inside the guest, which cannot be reached: {'; '.join(why_not)}"
        ) from exc
    return f"run level {level} asked for (telinit {level}, over ssh to {address})"
