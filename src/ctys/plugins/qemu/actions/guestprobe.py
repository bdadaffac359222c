"""CREATE's ``PING`` and ``SSHPING``: after the start (and ``WAITS``), poll until the
guest answers ``ping``, then until its sshd lets ``USER`` in, as the original's
netWaitForPing/netWaitForSSH: up to ``count`` tries, ``interval`` seconds apart; SSHPING
runs when PING is off or succeeded.

Where the guest is reached: PING the conf's address (``#@#IP``; a user-mode NIC's guest
cannot be pinged from the host); SSHPING the host end of a ``HOSTFWD`` to the guest's ssh
port (``SSHPORT``, default 22), else the conf's address on that port. A VM without one is
refused before it boots. A probe that runs out of tries is an error, and the VM keeps
running (it may only be slow). ssh runs with ``BatchMode`` and the user's ssh config
(``CTYS_SSH_CONFIG`` = ``ssh -F``), so it never asks for a password.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO

from ctys.errors import CommandError, CtysError, VmError
from ctys.plugins.qemu.boot.confkeys import conf_value
from ctys.plugins.qemu.createopts import ProbeSpec
from ctys.plugins.qemu.net.network import NetMode, NetworkConfig
from ctys.plugins.qemu.requests import CreateRequest
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vmconfig import VmConfig
from ctys.remote.ssh import ENV_SSH_CONFIG
from ctys.runcmd import run_command
from ctys.textescape import one_line

DEFAULT_SSH_PORT = 22
_TRY_TIMEOUT = 10.0  # seconds one ping or ssh try may take (ssh: ConnectTimeout=5)

# One try: argv -> (exit status, its last line of stderr).
Runner = Callable[[Sequence[str]], tuple[int, str]]


@dataclass(frozen=True)
class SshTarget:
    host: str
    port: int


def ping_target(vm: VmConfig) -> str | None:
    """The address PING polls: the conf's first ``#@#IP``."""
    return vm.ip


def guest_ssh_port(vm: VmConfig) -> int:
    """The guest's ssh port: ``#@#IP``'s sshport field, else ``SSHPORT``, else 22."""
    for address in vm.addresses:
        if address.sshport.isdigit():
            return int(address.sshport)
    found = conf_value(vm, "SSHPORT")
    return int(found.text) if found is not None and found.text.isdigit() else DEFAULT_SSH_PORT


def ssh_target(vm: VmConfig, net: NetworkConfig) -> SshTarget | None:
    """Where SSHPING connects: a user-mode forward to the guest's ssh port, else the conf's
    address on that port."""
    port = guest_ssh_port(vm)
    for nic in net.nics:
        if nic.mode is not NetMode.USER:
            continue
        for fwd in nic.hostfwd:
            if fwd.proto == "tcp" and fwd.guest_port == port:
                return SshTarget(fwd.host_addr or "127.0.0.1", fwd.host_port)
    return SshTarget(vm.ip, port) if vm.ip else None


def check_probe_targets(vm: VmConfig, req: CreateRequest, net: NetworkConfig) -> None:
    """Before the boot: a PING/SSHPING that has nothing to reach is a ``VmError``."""
    if req.ping.enabled and ping_target(vm) is None:
        raise VmError(
            f"PING: VM {vm.label} has no address to ping (#@#IP in {vm.conf_path}); the guest"
            " of a user-mode NIC cannot be pinged from the host: use SSHPING through a HOSTFWD"
        )
    if req.sshping.enabled and ssh_target(vm, net) is None:
        raise VmError(
            f"SSHPING: VM {vm.label} has no ssh address: give it #@#IP, or a HOSTFWD to the"
            f" guest's port {guest_ssh_port(vm)} on a user-mode NIC ({vm.conf_path})"
        )


def ping_argv(address: str) -> list[str]:
    """One ICMP echo, waiting at most 2 s for the answer."""
    return ["ping", "-n", "-q", "-c", "1", "-W", "2", "--", address]


def sshping_argv(
    target: SshTarget, user: str | None, env: Mapping[str, str] | None = None
) -> list[str]:
    """``ssh ... true`` into the guest, never asking for a password."""
    environ = os.environ if env is None else env
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-T", "-n"]
    config = environ.get(ENV_SSH_CONFIG)
    if config:
        argv += ["-F", config]
    argv += ["-p", str(target.port)]
    if user:
        argv += ["-l", user]
    return [*argv, "--", target.host, "true"]


def run_try(argv: Sequence[str]) -> tuple[int, str]:
    """Run one probe (through ``ctys.runcmd``); its status and last line of stderr."""
    try:
        run_command(argv, timeout=_TRY_TIMEOUT, missing=f"{argv[0]}: not installed")
    except CommandError as failed:
        lines = failed.stderr.strip().splitlines()
        return failed.returncode, lines[-1] if lines else ""
    except CtysError as exc:  # not installed, or no answer within the try's time
        return 1, str(exc)
    return 0, ""


def poll(
    argv: Sequence[str],
    spec: ProbeSpec,
    *,
    alive: Callable[[], bool],
    run: Runner = run_try,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[int, str] | None:
    """Try ``argv`` up to ``spec.count`` times, ``spec.interval`` s apart; ``None`` on
    success, else (tries made, the last try's complaint). Stops early when the VM ends."""
    last = ""
    for attempt in range(1, spec.count + 1):
        status, last = run(argv)
        if status == 0:
            return None
        if not alive():
            return attempt, "the VM ended"
        if attempt < spec.count:
            sleep(spec.interval)
    return spec.count, last


def wait_guest_answers(
    vm: VmConfig,
    req: CreateRequest,
    net: NetworkConfig,
    handle: VmHandle,
    *,
    err: TextIO | None = None,
    run: Runner = run_try,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """PING, then SSHPING as ``req`` asks; a ``VmError`` when the guest does not answer
    (the VM keeps running)."""

    def alive() -> bool:
        return not handle.ended()

    steps: list[tuple[str, ProbeSpec, list[str]]] = []
    address = ping_target(vm)
    if req.ping.enabled and address is not None:
        steps.append(("ping", req.ping, ping_argv(address)))
    target = ssh_target(vm, net)
    if req.sshping.enabled and target is not None:
        who = f"{req.user}@" if req.user else ""
        steps.append(
            (f"ssh {who}{target.host}:{target.port}", req.sshping, sshping_argv(target, req.user))
        )
    for what, spec, argv in steps:
        if err is not None:
            print(f"{vm.label}: waiting for {what} ({spec.count} tries, {spec.interval:g}s apart)",
                  file=err, flush=True)  # fmt: skip
        failed = poll(argv, spec, alive=alive, run=run, sleep=sleep)
        if failed is not None:
            tries, why = failed
            said = f": {one_line(why)}" if why else ""
            raise VmError(
                f"VM {vm.label} did not answer {what} in {tries} tries{said}"
                f" (it keeps running; CANCEL=l:{vm.label} stops it)"
            )
        if err is not None:
            print(f"{vm.label}: answers {what}", file=err, flush=True)
