"""QEMU plugin: suboptions (raw ``Suboption`` tokens) → typed action requests."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ctys.address.model import (
    BASEPATH_KEYS,
    PATH_ADDRESS_KEYS,
    MachineAddress,
    MachineSelector,
    address_from_suboption,
    base_paths_from_suboption,
)
from ctys.consoles.kinds import DEFAULT_CONSOLE, ConsoleKind, parse_console_port
from ctys.errors import UsageError
from ctys.invocation import ActionCall, Suboption
from ctys.plugins.qemu.boot.bootspec import BootMode, BootSpec, KernelSpec
from ctys.plugins.qemu.boot.instmode import InstallSpec, parse_install
from ctys.plugins.qemu.createopts import (
    PROBE_OFF,
    STACKCHECK_DEFAULT,
    ProbeSpec,
    StackCheck,
    parse_argsadd,
    parse_probe,
    parse_stackcheck,
    parse_user,
    parse_wait_seconds,
)


class SecretFrom(Enum):
    """Where a secret is read from: never the command line, which others can see."""

    ENV = "ENV"
    FILE = "FILE"


@dataclass(frozen=True)
class SecretSource:
    """``VNCPASS:ENV%NAME`` (environment variable) or ``VNCPASS:FILE%path``."""

    origin: SecretFrom
    ref: str


@dataclass(frozen=True)
class CreateRequest:
    selector: MachineSelector
    # Without CONSOLE: the conf's DEFAULTCONSOLE, else VNC (``console_given`` False until
    # ``actions.createdefaults`` has applied the conf's default).
    console: ConsoleKind = DEFAULT_CONSOLE
    console_given: bool = False
    boot: BootSpec | None = None  # None: the conf's DEFAULTBOOTMODE, else VHDD
    kernel: KernelSpec | None = None
    argsadd: tuple[str, ...] = ()
    connect: bool = False  # attach to the console of a running VM, never boot
    reuse: bool = False  # attach when running, boot otherwise
    resume: bool = False  # RESUME: continue a paused VM, attach nothing, never boot
    vnc_listen: str | None = None  # VNCBIND: a TCP port on this address (else a UNIX socket)
    wait_ready: str | None = None  # WAIT:<text>: return once the console printed it
    wait_timeout: float = 120.0  # WAIT:<text>%<seconds>
    install: InstallSpec | None = None  # INSTMODE: installer media against a target disk
    vnc_password: SecretSource | None = None  # VNCPASS: the VNC server asks for a password
    wrapper: bool = False  # WRAPPER: run the VM's wrapper script (actions.wrapperstart)
    vnc_port: int | None = None  # CONSOLE:VNC:<port>: this TCP port (with a password)
    reconnect: bool = False  # RECONNECT: close the VM's viewers/console attachers, then CONNECT
    force: bool = False  # FORCE (with CONNECT/REUSE/RECONNECT): take the serial console over
    ping: ProbeSpec = PROBE_OFF  # PING: wait until the guest answers ping
    sshping: ProbeSpec = PROBE_OFF  # SSHPING: wait until the guest's sshd lets USER in
    wait_server: float = 0.0  # WAITS: seconds to wait after the start, before PING/SSHPING
    wait_client: float = 0.0  # WAITC: seconds to wait before the console client opens
    user: str | None = None  # USER: the guest login of SSHPING (default: yours)
    callopts: tuple[str, ...] = ()  # CALLOPTS|C: options for the viewer/terminal program
    xopts: tuple[str, ...] = ()  # XOPTS|X: X toolkit options for it
    stackcheck: StackCheck = STACKCHECK_DEFAULT  # STACKCHECK: STACKREQ/HWREQ against this host


def _one_arg(sub: Suboption) -> str:
    if len(sub.args) != 1 or not sub.args[0]:
        raise UsageError(f"suboption '{sub.raw}' needs one value ({sub.key}:VALUE)")
    return sub.args[0]


def _no_args(sub: Suboption) -> None:
    if sub.args:
        raise UsageError(f"suboption '{sub.raw}' takes no value")


# Suboptions whose values are paths (``~`` and ``~user`` are expanded).
_PATH_KEYS = BASEPATH_KEYS | PATH_ADDRESS_KEYS | {"BOOTMODE", "KERNEL", "INSTMODE", "VNCPASS"}


def _check_home_dirs(sub: Suboption) -> None:
    """``~user/...`` naming no user, or a path with a NUL byte, is a usage error before any
    path is expanded (pathlib would raise a bare ``RuntimeError``/``ValueError``)."""
    if sub.key not in _PATH_KEYS:
        return
    for arg in sub.args:
        if "\0" in arg:
            raise UsageError(f"'{sub.raw}': a path cannot hold a NUL byte")
        head = arg.split("/", 1)[0]
        try:
            Path(head).expanduser()
        except RuntimeError:
            raise UsageError(f"'{sub.raw}': no home directory for '{head}'") from None


def _split_address(call: ActionCall) -> tuple[MachineSelector, list[Suboption]]:
    terms: list[MachineAddress] = []
    bases: list[Path] = []
    rest: list[Suboption] = []
    for sub in call.suboptions:
        _check_home_dirs(sub)
        if sub.key in BASEPATH_KEYS:
            bases.extend(base_paths_from_suboption(sub))
            continue
        addr = address_from_suboption(sub)
        if addr is not None:
            terms.append(addr)
        else:
            rest.append(sub)
    return MachineSelector(tuple(terms), tuple(bases)), rest


def _bootspec(sub: Suboption) -> BootSpec:
    """``BOOTMODE:MODE[%PATH]``, and ``BOOTMODE:PXE[%TFTPROOT[%BOOTFILE]]``
    (``KERNEL[%PATH]``: the conf's KERNELIMAGE, or PATH, with its INITRDIMAGE and APPEND)."""
    return bootspec_of(sub.args, sub.raw)


def bootspec_of(args: tuple[str, ...], raw: str) -> BootSpec:
    """The ``BootSpec`` of BOOTMODE's values (also a conf's ``DEFAULTBOOTMODE``)."""
    sub = Suboption("BOOTMODE", args, raw)
    if not sub.args or len(sub.args) > 3:
        raise UsageError(f"'{sub.raw}': expected BOOTMODE:MODE[%PATH] or PXE[%TFTPROOT[%BOOTFILE]]")
    try:
        mode = BootMode(sub.args[0].upper())
    except ValueError:
        valid = "|".join(m.value for m in BootMode)
        raise UsageError(f"unknown boot mode '{sub.args[0]}' in '{sub.raw}' ({valid})") from None
    if len(sub.args) == 3 and mode is not BootMode.PXE:
        raise UsageError(f"'{sub.raw}': expected BOOTMODE:MODE[%PATH] (a BOOTFILE is for PXE)")
    path = Path(sub.args[1]).expanduser() if len(sub.args) >= 2 and sub.args[1] else None
    bootfile = sub.args[2] if len(sub.args) == 3 and sub.args[2] else None
    return BootSpec(mode, path, bootfile)


def _kernelspec(sub: Suboption) -> KernelSpec:
    if not sub.args or not sub.args[0] or len(sub.args) > 3:
        raise UsageError(f"'{sub.raw}': expected KERNEL:IMAGE[%INITRD[%APPEND]]")
    initrd = Path(sub.args[1]).expanduser() if len(sub.args) > 1 and sub.args[1] else None
    append = sub.args[2] if len(sub.args) > 2 else None
    return KernelSpec(Path(sub.args[0]).expanduser(), initrd, append)


def _secret_source(sub: Suboption) -> SecretSource:
    if len(sub.args) != 2 or not sub.args[1] or sub.args[0].upper() not in SecretFrom.__members__:
        raise UsageError(
            f"'{sub.raw}': expected {sub.key}:ENV%VARIABLE or {sub.key}:FILE%PATH"
            " (a password is never given on the command line)"
        )
    return SecretSource(SecretFrom(sub.args[0].upper()), sub.args[1])


WAIT_MAX = 86400.0  # seconds


def _wait(sub: Suboption) -> tuple[str, float]:
    """``WAIT:TEXT`` (120 s) or ``WAIT:TEXT%SECONDS``."""
    if not 1 <= len(sub.args) <= 2 or not sub.args[0]:
        raise UsageError(f"'{sub.raw}': expected WAIT:TEXT or WAIT:TEXT%SECONDS")
    if len(sub.args) == 1:
        return sub.args[0], 120.0
    value = sub.args[1]
    try:
        seconds = float(value)
    except ValueError:
        raise UsageError(f"'{sub.raw}': WAIT timeout needs seconds, not '{value}'") from None
    if not 0 < seconds <= WAIT_MAX:  # also refuses nan
        raise UsageError(f"'{sub.raw}': WAIT timeout {value} out of range (0 < s <= 86400)")
    return sub.args[0], seconds


def parse_create(call: ActionCall) -> CreateRequest:
    """CREATE suboptions → ``CreateRequest``; unknown keys are a ``UsageError``."""
    selector, rest = _split_address(call)
    fields: dict[str, object] = {}
    argsadd: list[str] = []
    for sub in rest:
        if sub.key == "CONSOLE":
            fields["console"], fields["vnc_port"] = parse_console_port(_one_arg(sub))
            fields["console_given"] = True
        elif sub.key == "BOOTMODE":
            fields["boot"] = _bootspec(sub)
        elif sub.key == "KERNEL":
            fields["kernel"] = _kernelspec(sub)
        elif sub.key == "ARGSADD":
            argsadd.extend(parse_argsadd(sub))
        elif sub.key in _EXTRA:
            name, parse = _EXTRA[sub.key]
            fields[name] = parse(sub)
        elif sub.key == "CONNECT":
            _no_args(sub)
            fields["connect"] = True
        elif sub.key == "REUSE":
            _no_args(sub)
            fields["reuse"] = True
        elif sub.key == "RESUME":
            _no_args(sub)
            fields["resume"] = True
        elif sub.key == "RECONNECT":
            _no_args(sub)
            fields["reconnect"] = fields["connect"] = True
        elif sub.key == "FORCE":
            _no_args(sub)
            fields["force"] = True
        elif sub.key == "VNCBIND":
            fields["vnc_listen"] = _one_arg(sub)
        elif sub.key == "WAIT":
            fields["wait_ready"], fields["wait_timeout"] = _wait(sub)
        elif sub.key == "INSTMODE":
            fields["install"] = parse_install(sub.args, sub.raw)
        elif sub.key == "VNCPASS":
            fields["vnc_password"] = _secret_source(sub)
        elif sub.key == "WRAPPER":
            _no_args(sub)
            fields["wrapper"] = True
        else:
            raise UsageError(f"unknown CREATE suboption '{sub.raw}'")
    if "install" in fields and "boot" in fields:
        raise UsageError("INSTMODE chooses the boot medium itself; drop BOOTMODE")
    if "install" in fields and "connect" in fields:
        raise UsageError("INSTMODE boots the VM; CONNECT only attaches to a running one")
    _check_combinations(fields)
    return CreateRequest(selector=selector, argsadd=tuple(argsadd), **fields)  # type: ignore[arg-type]


def _check_combinations(fields: dict[str, object]) -> None:
    if fields.get("wrapper") and fields.get("console") is ConsoleKind.CLI0:
        raise UsageError("WRAPPER runs the wrapper in its own session; use CONSOLE:CLI, not CLI0")
    if fields.get("resume") and fields.keys() & _NOT_WITH_RESUME:
        raise UsageError("RESUME continues a paused VM; it takes no boot or console suboption")
    if fields.get("force") and not fields.keys() & {"connect", "reuse"}:
        raise UsageError(
            "FORCE takes over a VM's console: give it with CONNECT, REUSE or RECONNECT"
        )
    if fields.get("reconnect") and fields.keys() & {"reuse", "install"}:
        raise UsageError("RECONNECT attaches to a running VM anew; drop REUSE/INSTMODE")
    boot = fields.get("boot")
    if "kernel" in fields and isinstance(boot, BootSpec) and boot.mode is BootMode.KERNEL:
        raise UsageError("give the kernel either by BOOTMODE:KERNEL%PATH or by KERNEL:, not both")


# What RESUME cannot go with: it boots nothing and attaches nothing.
_NOT_WITH_RESUME = frozenset(
    {"connect", "reuse", "boot", "kernel", "install", "console", "reconnect", "wrapper", "force"}
)


def _words(sub: Suboption) -> tuple[str, ...]:
    """CALLOPTS/XOPTS: the program's option words (``%`` separates them, as the original's
    blank did); each stays one argv word, no shell."""
    if not sub.args or not all(sub.args):
        raise UsageError(f"'{sub.raw}' needs option words ({sub.key}:-opt%value...)")
    return sub.args


# CREATE suboptions of the original parsed by ``createopts``: key -> (field, parser).
_EXTRA = {
    "PING": ("ping", parse_probe),
    "SSHPING": ("sshping", parse_probe),
    "WAITC": ("wait_client", parse_wait_seconds),
    "WAITS": ("wait_server", parse_wait_seconds),
    "USER": ("user", parse_user),
    "STACKCHECK": ("stackcheck", parse_stackcheck),
    "CALLOPTS": ("callopts", _words),
    "C": ("callopts", _words),
    "XOPTS": ("xopts", _words),
    "X": ("xopts", _words),
}
