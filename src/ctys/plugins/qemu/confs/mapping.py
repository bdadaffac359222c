"""Map a parsed conf file (``RawConf``) to the typed ``VmConfig`` (QEMU's VM; its NICs by
the QEMU plugin's rules, ``ctys.plugins.qemu.net.network``).

Every field is looked up first among the ctys keys (``#@#KEY = value``), then among the
shell variables, trying the field's aliases in order (``VCPU`` then ``SMP``, ...). Empty
values count as absent. ``docs/conf-format.md`` has the full key table.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ctys.conf.found import IGNORE_MARKER
from ctys.conf.lenient import read_vm_conf
from ctys.conf.parser import SourceLines
from ctys.conf.rawconf import ConfMode, RawConf, wrapper_path
from ctys.errors import ConfError, CtysError
from ctys.plugins.qemu.confs import origkeys
from ctys.plugins.qemu.net.network import MAX_NICS, NetworkError, normalize_mac
from ctys.plugins.qemu.vmconfig import Accelerator, VmConfig

# Accepted spellings (upper-cased) of each accelerator. QEMU itself writes them in lower
# case, "kvm:tcg" is its "KVM with TCG fallback", and the old ctys said QEMU for TCG.
_ACCELERATORS: Mapping[str, Accelerator] = {
    "AUTO": Accelerator.AUTO,
    "KVM:TCG": Accelerator.AUTO,
    "KVM": Accelerator.KVM,
    "TCG": Accelerator.TCG,
    "QEMU": Accelerator.TCG,
}
_MEMSIZE = re.compile(r"(\d+)\s*(?:([KMGT])(?:I?B)?)?", re.IGNORECASE)
_KIB_PER_UNIT = {"K": 1, "M": 1024, "G": 1024**2, "T": 1024**3}
_MAX_VCPU = 4096
# shlex.split's only special characters (posix mode, no comments) and its word separators:
# a value without the former splits like re.split on the latter, at a fraction of the cost.
_SHLEX_SPECIAL = re.compile(r"['\"\\]")
_SHLEX_BLANKS = re.compile(r"[ \t\r\n]+")
# QEMU's -uuid takes exactly this form (qemu_uuid_parse: 36 characters, dashes in place).
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Per-NIC MAC keys: MAC (= MAC0) and MAC1..MAC7 (plugins.qemu.net.netconf reads them at CREATE).
_MAC_KEYS = ("MAC", *(f"MAC{index}" for index in range(MAX_NICS)))


# Where a conf is silent (only its constant fields are read).
_DEFAULTS = VmConfig(conf_path=Path("/"), label="")


@dataclass(frozen=True)
class _Found:
    """A value found for a field: which name supplied it and on which line."""

    name: str
    value: str
    line: int


class _Lookup:
    """Field lookup over one RawConf: ctys keys first, then shell variables."""

    def __init__(self, raw: RawConf, lines: SourceLines | None) -> None:
        self.raw = raw
        self.lines = lines
        self.where = str(raw.path)
        # Looked up ~20 times per conf (ENUMERATE maps thousands): keep them at hand.
        self.keys = raw.keys
        self.variables = raw.variables

    def find(self, *names: str) -> _Found | None:
        for name in names:
            value = self.keys.get(name)
            if value and (value := value.strip()):
                line = self.lines.keys.get(name, 0) if self.lines else 0
                return _Found(f"#@#{name}", value, line)
        for name in names:
            value = self.variables.get(name)
            if value and (value := value.strip()):
                line = self.lines.variables.get(name, 0) if self.lines else 0
                return _Found(name, value, line)
        return None

    def text(self, *names: str) -> str | None:
        """The value only (what ``find`` finds, without building a ``_Found``)."""
        for mapping in (self.keys, self.variables):
            for name in names:
                value = mapping.get(name)
                if value and (value := value.strip()):
                    return value
        return None

    def error(self, found: _Found, message: str) -> ConfError:
        return ConfError(self.where, found.line, f"{found.name}: {message}")

    def integer(self, *names: str, low: int, high: int) -> int | None:
        found = self.find(*names)
        if found is None:
            return None
        # For CPUs, QEMU's -smp syntax is accepted too; a plain number passes unchanged.
        value = _smp_cpus(found.value) if names[0] == "VCPU" else found.value
        if not value.isascii() or not value.isdigit():
            raise self.error(found, f"not a whole number: {found.value!r}")
        number = int(value)
        if not low <= number <= high:
            raise self.error(found, f"{number} is out of range {low}..{high}")
        return number

    def memsize_mb(self) -> int | None:
        found = self.find("MEMSIZE")
        if found is None:
            return None
        match = _MEMSIZE.fullmatch(found.value)
        if match is None or not found.value.isascii():
            raise self.error(found, f"not a size in MB (like 512, 512M, 2G): {found.value!r}")
        kib = int(match.group(1)) * _KIB_PER_UNIT[(match.group(2) or "M").upper()]
        if kib % 1024 or kib == 0:
            raise self.error(found, f"{found.value!r} is not a positive whole number of MB")
        return kib // 1024

    def uuid(self) -> str | None:
        """``#@#UUID`` (or ``UUID``), checked now so ENUMERATE names a bad one (file:line)
        rather than qemu refusing it at CREATE."""
        value = self.text("UUID")
        if value is None or _UUID.fullmatch(value):
            return value
        found = self.find("UUID")
        assert found is not None
        raise self.error(found, f"not a UUID like 5a2b7c1e-93d4-4c0e-9f6a-0b1c2d3e4f50: {value!r}")

    def check_macs(self) -> None:
        """Every NIC's MAC that is set is a unicast MAC (the rule CREATE applies). Per key
        the value that counts (a ctys key over a variable) is checked, with plain lookups:
        this runs for every conf ENUMERATE reads."""
        keys, variables = self.keys, self.variables
        for name in _MAC_KEYS:
            if name not in keys and name not in variables:
                continue
            value = self.text(name)
            if value is None:
                continue
            try:
                normalize_mac(value)
            except NetworkError as err:
                found = self.find(name)
                assert found is not None
                raise self.error(found, str(err)) from None

    def accelerator(self) -> Accelerator:
        found = self.find("ACCELERATOR")
        if found is None:
            return Accelerator.AUTO
        try:
            return _ACCELERATORS[found.value.upper()]
        except KeyError:
            raise self.error(
                found, f"unknown accelerator {found.value!r} (use KVM, TCG or AUTO)"
            ) from None

    def path(self, *names: str) -> Path | None:
        found = self.find(*names)
        return None if found is None else self.resolve(found)

    def resolve(self, found: _Found) -> Path:
        """Relative paths are relative to the conf file's directory; '~' is the home."""
        path = Path(found.value)
        if found.value.startswith("~"):
            try:
                path = path.expanduser()
            except RuntimeError as err:
                raise self.error(found, f"cannot expand '~' in {found.value!r}") from err
        return path if path.is_absolute() else self.raw.path.absolute().parent / path

    def disks(self) -> tuple[Path, ...]:
        """The disks, boot disk first (``origkeys.disk_values``: the original's names)."""
        return tuple(self.resolve(found) for found in origkeys.disk_values(self))

    def argv(self, *names: str) -> tuple[str, ...]:
        found = self.find(*names)
        if found is None:
            return ()
        if _SHLEX_SPECIAL.search(found.value) is None:
            return tuple(word for word in _SHLEX_BLANKS.split(found.value) if word)
        try:
            return tuple(shlex.split(found.value))
        except ValueError as err:
            raise self.error(found, f"cannot split into words: {err}") from err


def _smp_cpus(value: str) -> str:
    """QEMU's ``-smp 2,sockets=1,cores=2`` or ``cpus=2,...``: the CPU count part."""
    first = value.split(",", 1)[0].strip()
    return first.removeprefix("cpus=")


def load_vm_config(path: Path) -> VmConfig:
    """Read, parse and map the conf file at ``path``; every failure is a ``ConfError``."""
    raw, lines = read_vm_conf(path)
    return vm_config_from_raw(raw, lines)


def vm_config_or_none(path: Path) -> VmConfig | None:
    """``load_vm_config``, or None for a conf that is gone or cannot be used (a running
    VM's conf, removed or broken since it started, still leaves its VM listed)."""
    try:
        return load_vm_config(path)
    except (CtysError, OSError):
        return None


def vm_config_from_raw(raw: RawConf, lines: SourceLines | None = None) -> VmConfig:
    """Map a parsed conf to ``VmConfig``. ``lines`` (from the parser) lets errors name the
    line of a bad key; without it they say line 0."""
    look = _Lookup(raw, lines)
    conf_path = raw.path.absolute()
    stem = conf_path.stem
    wrapper = wrapper_path(conf_path)
    addresses = origkeys.addresses_of(look)
    defaults = _DEFAULTS
    vcpu = look.integer("VCPU", "SMP", low=1, high=_MAX_VCPU)
    memsize = look.memsize_mb()
    look.check_macs()
    return VmConfig(
        conf_path=conf_path,
        label=look.text("LABEL") or stem,
        mode=ConfMode.SH_CTYS if wrapper.is_file() else ConfMode.CTYS_CONF,
        uuid=look.uuid(),
        mac=addresses[0].mac or None if addresses else None,
        ip=addresses[0].ip or None if addresses else None,
        arch=look.text("ARCH") or defaults.arch,
        accelerator=look.accelerator(),
        vcpu=defaults.vcpu if vcpu is None else vcpu,
        memsize_mb=defaults.memsize_mb if memsize is None else memsize,
        vncport=origkeys.vnc_port(look, look.integer),
        dist=origkeys.blank_to_underscore(look.text("DIST")),
        os=origkeys.blank_to_underscore(look.text("OS")),
        machine=look.text("MACHINE"),
        qemu_binary=look.text("QEMUBIN", "STARTERCALL"),
        hdd=look.disks(),
        cdrom=look.path("CDROM", "ISO", "INST_CDROM", "CDIMAGE", "DVDIMAGE"),
        fdd=look.path("FDD", "FDDIMAGE", "FDA"),
        kernel=look.path("KERNEL", "KERNELIMAGE"),
        initrd=look.path("INITRD", "INITRDIMAGE"),
        append=look.text("APPEND"),
        extra_args=look.argv("ARGS"),
        ignored=IGNORE_MARKER in raw.magic,
        dvd=look.path("DVDIMAGE"),
        fdb=look.path("FDB"),
        usb=look.path("USBBOOTIMAGE"),
        addresses=addresses,
        facts=origkeys.facts_of(look),
        raw=raw,
    )


@dataclass(frozen=True)
class IdentitySources:
    """Where a conf holds what a clone must change: each as (name, value, line), the name
    ``#@#KEY`` for a ctys key, else the variable's name (``ctys-cloneVM``)."""

    label: tuple[tuple[str, str, int], ...]
    uuid: tuple[tuple[str, str, int], ...]
    macs: tuple[tuple[str, str, int], ...]
    disks: tuple[tuple[str, str, int, Path], ...]  # plus the disk's resolved path


def identity_sources(raw: RawConf, lines: SourceLines) -> IdentitySources:
    """Every occurrence (ctys key and variable) of LABEL, UUID and the MAC keys, and the
    disks that count (boot disk first), of a parsed conf."""

    def every(*names: str) -> tuple[tuple[str, str, int], ...]:
        found: list[tuple[str, str, int]] = []
        for name in names:
            if raw.keys.get(name, "").strip():
                found.append((f"#@#{name}", raw.keys[name], lines.keys.get(name, 0)))
            if raw.variables.get(name, "").strip():
                found.append((name, raw.variables[name], lines.variables.get(name, 0)))
        return tuple(found)

    look = _Lookup(raw, lines)
    disks = tuple((f.name, f.value, f.line, look.resolve(f)) for f in origkeys.disk_values(look))
    return IdentitySources(every("LABEL"), every("UUID"), every(*_MAC_KEYS), disks)
