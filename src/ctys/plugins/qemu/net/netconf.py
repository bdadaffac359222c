"""Read a VM's network settings (``#@#NETMODE``, ``#@#VDENET``, ...) from its conf file.

Every NIC key may carry a NIC number 0..7 as suffix (``VDENET1``); no suffix is NIC 0.
As for every field, a ctys key wins over a shell variable of the same name. See
docs/networking.md for the keys and what each mode needs on the host.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ctys.conf.lenient import read_vm_conf
from ctys.errors import ConfError, CtysError
from ctys.plugins.qemu.net.network import (
    DEFAULT_NIC_MODEL,
    MAX_NICS,
    HostForward,
    NetMode,
    NetworkConfig,
    NetworkError,
    Nic,
    VdeSwitchRef,
    derive_mac,
    has_network_args,
    normalize_mac,
    parse_hostfwds,
    parse_vde_network,
)
from ctys.plugins.qemu.vmconfig import VmConfig

# Keys that choose a NIC's backend: any of them means the conf configures networking.
_BACKEND_KEYS = ("NETMODE", "VDENET", "BRIDGE", "TAP", "HOSTFWD")
# Keys that only describe a NIC (they make NIC n >= 1 exist, as user-mode by default).
_NIC_KEYS = (*_BACKEND_KEYS, "MAC", "NICMODEL", "IP")
_TRUE = frozenset({"1", "YES", "Y", "ON", "TRUE"})
_FALSE = frozenset({"0", "NO", "N", "OFF", "FALSE"})


@dataclass(frozen=True)
class _Value:
    name: str  # as written: "#@#VDENET1" or "VDENET1"
    key: str  # the bare name, for the line lookup
    is_key: bool
    text: str


class _Reader:
    """Lookup over a VM's raw conf; errors name the file and the line of the bad value."""

    def __init__(self, vm: VmConfig) -> None:
        self.vm = vm
        raw = vm.raw
        self.keys = dict(raw.keys) if raw else {}
        self.variables = dict(raw.variables) if raw else {}

    def find(self, *names: str) -> _Value | None:
        for name in names:
            text = self.keys.get(name, "").strip()
            if text:
                return _Value(f"#@#{name}", name, True, text)
        for name in names:
            text = self.variables.get(name, "").strip()
            if text:
                return _Value(name, name, False, text)
        return None

    def nic(self, base: str, index: int) -> _Value | None:
        """``BASE``/``BASE0`` for NIC 0, ``BASE<n>`` for the others."""
        return self.find(base, f"{base}0") if index == 0 else self.find(f"{base}{index}")

    def error(self, value: _Value, message: str) -> ConfError:
        return ConfError(str(self.vm.conf_path), self._line(value), f"{value.name}: {message}")

    def _line(self, value: _Value) -> int:
        # Lines are looked up only on this error path: a second parse is cheap here and
        # keeps the common path free of it.
        try:
            _, lines = read_vm_conf(self.vm.conf_path)
        except (CtysError, OSError):
            return 0
        table = lines.keys if value.is_key else lines.variables
        return table.get(value.key, 0)


def _present(reader: _Reader, index: int, bases: tuple[str, ...]) -> bool:
    return any(reader.nic(base, index) is not None for base in bases)


def _mode(reader: _Reader, index: int) -> NetMode:
    explicit = reader.nic("NETMODE", index)
    if explicit is not None:
        try:
            return NetMode(explicit.text.lower())
        except ValueError:
            valid = "|".join(m.value for m in NetMode)
            raise reader.error(explicit, f"unknown mode {explicit.text!r} ({valid})") from None
    # Without NETMODE the backend follows from the key that names one.
    for base, mode in (("VDENET", NetMode.VDE), ("BRIDGE", NetMode.BRIDGE), ("TAP", NetMode.TAP)):
        if reader.nic(base, index) is not None:
            return mode
    return NetMode.USER


def _vde_ref(reader: _Reader, value: _Value) -> VdeSwitchRef:
    text = value.text
    if "/" in text or text.startswith("~"):
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = reader.vm.directory / path
        return VdeSwitchRef(ctl=path)
    try:
        return parse_vde_network(text)
    except NetworkError as exc:
        raise reader.error(value, str(exc)) from None


def _mac(reader: _Reader, index: int) -> str:
    value = reader.nic("MAC", index)
    if value is not None:
        try:
            return normalize_mac(value.text)
        except NetworkError as exc:
            raise reader.error(value, str(exc)) from None
    vm = reader.vm
    return derive_mac(vm.uuid.lower() if vm.uuid else str(vm.conf_path), index)


def _hostfwd(reader: _Reader, index: int) -> tuple[HostForward, ...]:
    value = reader.nic("HOSTFWD", index)
    if value is None:
        return ()
    try:
        return parse_hostfwds(value.text)
    except NetworkError as exc:
        raise reader.error(value, str(exc)) from None


def _refuse_foreign_keys(reader: _Reader, index: int, mode: NetMode) -> None:
    """A key of another mode is a mistake in the conf (``HOSTFWD`` on a VDE NIC...)."""
    owners = {"HOSTFWD": NetMode.USER, "VDENET": NetMode.VDE, "BRIDGE": NetMode.BRIDGE}
    owners["TAP"] = NetMode.TAP
    for base, owner in owners.items():
        value = reader.nic(base, index)
        if value is not None and mode is not owner:
            raise reader.error(value, f"only for NETMODE {owner.value}, this NIC is {mode.value}")


def _nic(reader: _Reader, index: int, mode: NetMode) -> Nic:
    _refuse_foreign_keys(reader, index, mode)
    vde: VdeSwitchRef | None = None
    bridge = tap = None
    if mode is NetMode.VDE:
        value = reader.nic("VDENET", index)
        if value is None:
            where = reader.nic("NETMODE", index)
            assert where is not None  # VDE without VDENET comes only from NETMODE
            raise reader.error(where, f"NETMODE vde needs VDENET{index or ''} = <network name>")
        vde = _vde_ref(reader, value)
    elif mode is NetMode.BRIDGE:
        value = reader.nic("BRIDGE", index)
        bridge = value.text if value else "br0"
    elif mode is NetMode.TAP:
        value = reader.nic("TAP", index)
        if value is None:
            where = reader.nic("NETMODE", index)
            assert where is not None
            raise reader.error(where, f"NETMODE tap needs TAP{index or ''} = <tap device>")
        tap = value.text
    model = reader.nic("NICMODEL", index)
    ip_value = reader.nic("IP", index) if index else None
    ip = ip_value.text if ip_value else (reader.vm.ip if index == 0 else None)
    return Nic(
        index=index,
        mode=mode,
        mac=_mac(reader, index),
        model=model.text if model else DEFAULT_NIC_MODEL,
        hostfwd=_hostfwd(reader, index),
        vde=vde,
        bridge=bridge,
        tap=tap,
        ip=ip,
    )


def _guest_agent(reader: _Reader) -> bool:
    value = reader.find("GUESTAGENT", "QGA")
    if value is None:
        return False
    word = value.text.upper()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise reader.error(value, f"not yes/no: {value.text!r}")


def network_config(vm: VmConfig, *, args: tuple[str, ...] = ()) -> NetworkConfig:
    """The NICs of ``vm`` from its conf keys. Without any network key: one user-mode
    virtio NIC, unless the conf's ``ARGS`` (or the extra ``args`` of this start) configure
    networking themselves (then ctys adds none). ``NETMODE = none``: no NIC.
    A bad value raises ``ConfError`` naming the file and line."""
    reader = _Reader(vm)
    agent = _guest_agent(reader)
    explicit = any(_present(reader, i, _BACKEND_KEYS) for i in range(MAX_NICS))
    if not explicit and has_network_args((*vm.extra_args, *args)):
        return NetworkConfig(guest_agent=agent, from_args=True)
    # NIC 0 always exists (user-mode unless told otherwise; NETMODE = none drops it).
    configured = [0, *(i for i in range(1, MAX_NICS) if _present(reader, i, _NIC_KEYS))]
    nics: list[Nic] = []
    for index in configured:
        mode = _mode(reader, index)
        if mode is NetMode.NONE:
            continue
        nics.append(_nic(reader, index, mode))
    return NetworkConfig(nics=tuple(nics), guest_agent=agent)


def network_config_or_default(vm: VmConfig) -> NetworkConfig:
    """``network_config`` for callers that only display (LIST): a conf error gives the
    default user-mode NIC instead of failing."""
    try:
        return network_config(vm)
    except CtysError:
        return NetworkConfig(nics=(Nic(0, NetMode.USER, _fallback_mac(vm)),))


def _fallback_mac(vm: VmConfig) -> str:
    return derive_mac(vm.uuid.lower() if vm.uuid else str(vm.conf_path), 0)
