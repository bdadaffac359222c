"""The fields of an inventory record: the original ctys' MACHINE record (one ``enum.fdb``
line, ``ctys-vhost``'s record) in its order, then the few fields ctys keeps beyond it.

This table is the one place that says which fields there are, their order, the names
and aliases the original accepts for them (ENUMERATE suboptions, ``ctys-vhost -o``),
their 1-based position in the original record and the conf key that fills them. The
record (``ctys.inventory.record``), the MACHINE output, ``ctys-vhost -o`` and the
``enum.fdb`` import/export all use it.

Facts from the original (release 01.11): ctys(1) "Output Record-Format for MACHINE
suboption" lists fields 1-43; the sources (``plugins/GENERIC/ENUMERATE``, ``C_ENUMNF=47``)
add 44-47. Release 01.10 wrote 43 fields (``C_ENUMNF=43``): a 43-field line has fields
1-43 at the same positions and no 44-47.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ctys.errors import UsageError


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field. ``name``: the canonical name (upper case; the record attribute is
    ``name.lower()``). ``position``: 1-based in the original record, ``None`` for a field
    of ctys' own. ``aliases``: the other names the original (or ctys) accepts.
    ``conf_key``: the ``#@#KEY`` of a conf that holds the value, if one does.
    ``about``: a short description (ctys(1)). ``title``: the name the original's TITLE
    line gives the field (ENUMERATE's ``canonize.awk``; ctys' own fields: ``name``)."""

    name: str
    position: int | None
    aliases: tuple[str, ...]
    conf_key: str | None
    about: str
    title: str

    @property
    def attr(self) -> str:
        """The ``InventoryRecord`` attribute of this field."""
        return self.name.lower()

    @property
    def original(self) -> bool:
        """Whether the field is one of the original's record."""
        return self.position is not None


def _f(
    position: int | None, name: str, aliases: str, conf_key: str | None, about: str
) -> FieldSpec:
    title = _TITLES[position - 1] if position is not None else name
    return FieldSpec(name, position, tuple(aliases.split()), conf_key, about, title)


# The original's TITLE names of fields 1-47, in order.
_TITLES = (
    "ContainingMachine", "SessionType", "Label", "ID", "UUID", "MAC", "TCP", "DISPLAY",
    "ClientAccessPort", "ServerAccessPort", "VNCbasePort", "Distro", "Distrorel", "OS",
    "OSrel", "VersNo", "SerialNo", "Category", "VMstate", "hyperrel", "StackCap", "StackReq",
    "HWCAP", "HWREQ", "ExecLocation", "RelocationCapacity", "SSHport", "netname",
    "hyperrelrun", "accellerator", "exepath", "rsrv", "IFname", "CTYSRelease", "netmask",
    "gateway", "relay", "Arch", "Platform", "VRAM", "VCPU", "ContextStg", "UserStrg", "UID",
    "GID", "DefHOSTs", "DefCONSOLE",
)  # fmt: skip


FIELD_TABLE: tuple[FieldSpec, ...] = (
    _f(1, "HOST", "PM H", None, "the machine the VM was seen from (ContainingMachine)"),
    _f(2, "STYPE", "TYPE ST", None, "session type: the plugin whose VM it is"),
    _f(3, "LABEL", "L", "LABEL", "the VM's label"),
    # The original's ID of a VM is its conf file path; F/FILENAME are ctys' own.
    _f(4, "PNAME", "ID IDS I P F FILENAME", None, "absolute path of the conf file (ID)"),
    _f(5, "UUID", "U", "UUID", "the VM's UUID"),
    _f(6, "MAC", "M", "MAC0", "MAC address of the interface of this record"),
    _f(7, "TCP", "T IP", "IP0", "IP address of the interface of this record"),
    _f(8, "DISPLAY", "VNCDISPLAY DISP", "VNCACCESSDISPLAY", "VNC display"),
    _f(9, "VNCPORT", "CPORT", "VNCACCESSPORT", "client (VNC) access port"),
    _f(10, "SPORT", "SERVERACCESS S", "SPORT", "server access port"),
    _f(11, "VNCBASE", "", "VNCBASEPORT", "VNC base port"),
    _f(12, "DIST", "", "DIST", "guest distribution"),
    _f(13, "DISTREL", "", "DISTREL", "release of the distribution"),
    _f(14, "OS", "O", "OS", "guest OS"),
    _f(15, "OSREL", "", "OSREL", "OS release"),
    _f(16, "VERSION", "VERNO VER", "VERSION", "version number of the VM's conf"),
    _f(17, "SERNO", "SERIALNUMBER", "SERNO", "serial number of the VM"),
    _f(18, "CATEGORY", "CAT", "CATEGORY", "category (VM)"),
    _f(19, "VMSTATE", "VSTAT", "VMSTATE", "state of the VM (ACTIVE, DISABLED, ...)"),
    _f(20, "HYPERREL", "HYREL", "HYPERREL", "hypervisor release the VM was installed with"),
    _f(21, "STACKCAP", "SCAP", "STACKCAP", "VM-stack capabilities offered"),
    _f(22, "STACKREQ", "SREQ", "STACKREQ", "VM-stack capabilities required"),
    _f(23, "HWCAP", "", "HWCAP", "virtual hardware offered"),
    _f(24, "HWREQ", "", "HWREQ", "hardware required"),
    _f(25, "EXECLOCATION", "", "EXECLOCATION", "where the VM may run"),
    _f(26, "RELOCCAP", "", "RELOCCAP", "relocation behaviour"),
    _f(27, "SSHPORT", "", "SSHPORT", "ssh port of the guest"),
    _f(28, "NETNAME", "", None, "DNS name of the interface's address"),
    _f(29, "HYPERRELRUN", "HYRELRUN HRELRUN HRELX HRX", None, "release of the hypervisor here"),
    _f(30, "ACCELERATOR", "ACCEL ACCELLERATOR", "ACCELERATOR", "accelerator the hypervisor uses"),
    _f(31, "EXEPATH", "EXEP", None, "the program that runs the VM (STARTERCALL)"),
    _f(32, "RESERVED", "RESERVED10 RSRV", None, "reserved"),
    _f(33, "IFNAME", "IF", "IFNAME", "interface name in the guest"),
    _f(34, "CTYSRELEASE", "", "CTYSRELEASE", "release of the ctys that wrote the conf"),
    _f(35, "NETMASK", "", "NETMASK", "netmask of the interface"),
    _f(36, "GATEWAY", "GW", "GATEWAY", "gateway of the interface"),
    _f(37, "RELAY", "", "RELAY", "the interconnection (bridge, switch) of the interface"),
    _f(38, "ARCH", "", "ARCH", "architecture presented to the guest"),
    _f(39, "PLATFORM", "PFORM", "PLATFORM", "virtual platform"),
    _f(40, "VRAM", "MEMSIZE MEM", "VRAM", "memory of the VM (MB)"),
    _f(41, "VCPU", "", "VCPU", "number of virtual CPUs"),
    _f(42, "CONTEXTSTRG", "CONTEXTSTRING CSTRG", "CSTRG", "the plugin's context string"),
    _f(43, "USERSTRING", "USTRG", "USTRG", "a string of the user's"),
    _f(44, "UID", "USERID", None, "user of the scan"),
    _f(45, "GID", "GROUPID", None, "group of the scan"),
    _f(46, "DEFHOSTS", "DEFAULTHOSTS DEFH", "DEFAULTHOSTS", "default hosts"),
    _f(47, "DEFCONSOLE", "DEFAULTCONSOLE DEFCON DEFC", "DEFAULTCONSOLE", "default console"),
    # ctys' own, beyond the original record (not in enum.fdb nor the MACHINE output).
    _f(None, "MODE", "", None, "conf layout: sh+ctys | ctys-conf"),
    _f(None, "SCANNED", "", None, "when the record was made, ISO 8601 UTC"),
    _f(None, "FDBWIDTH", "", None, "fields of the enum.fdb line it was imported from"),
)
"""Every field of a record, in record order: the original's 47, then ctys' own."""

FIELDS: tuple[str, ...] = tuple(spec.name for spec in FIELD_TABLE)
"""Every field name in record order (the store's columns, JSON keys)."""

MACHINE_FIELDS: tuple[str, ...] = tuple(spec.name for spec in FIELD_TABLE if spec.original)
"""The original's record, 47 names in order: the MACHINE output and an ``enum.fdb`` line."""

FULL_WIDTH = len(MACHINE_FIELDS)  # 47 (release 01.11)
SHORT_WIDTH = 43  # release 01.10: fields 1-43 only
WIDTHS = (SHORT_WIDTH, FULL_WIDTH)

ALIASES: Mapping[str, str] = {alias: spec.name for spec in FIELD_TABLE for alias in spec.aliases}
"""Alias → canonical name, as the original ENUMERATE and ``ctys-vhost -o`` accept them."""

_BY_NAME: Mapping[str, FieldSpec] = {spec.name: spec for spec in FIELD_TABLE}
_BY_POSITION: Mapping[int, FieldSpec] = {
    spec.position: spec for spec in FIELD_TABLE if spec.position is not None
}


def canonical_field(name: str) -> str:
    """The field name for ``name`` (any case, or an alias); ``UsageError`` if unknown."""
    return field_spec(name).name


def field_spec(name: str) -> FieldSpec:
    """The field ``name`` (any case, or an alias) names; ``UsageError`` if unknown."""
    upper = name.strip().upper()
    spec = _BY_NAME.get(upper) or _BY_NAME.get(ALIASES.get(upper, ""))
    if spec is None:
        raise UsageError(
            f"unknown field '{name}' (known: {', '.join(FIELDS)}, or an alias such as L, U, "
            "M, T, P, H, CPORT)"
        )
    return spec


def is_field_name(name: str) -> bool:
    """Whether ``name`` is a field name or alias (any case)."""
    upper = name.upper()
    return upper in _BY_NAME or upper in ALIASES


def in_record_order(names: Iterable[str]) -> tuple[str, ...]:
    """The fields ``names`` name (names or aliases, repeats counted once) in record order,
    as the original prints a selection of fields whatever order it was given in."""
    chosen = {canonical_field(name) for name in names}
    return tuple(name for name in FIELDS if name in chosen)


def title_of(name: str, *, indexed: bool = False) -> str:
    """The original's TITLE name of field ``name``; ``indexed``: with its position, as
    TITLEIDX prints it (``Label(3)``)."""
    spec = field_spec(name)
    if indexed and spec.position is not None:
        return f"{spec.title}({spec.position})"
    return spec.title


def field_at(position: int) -> FieldSpec:
    """The field at 1-based ``position`` of the original record (``F:<n>:...``);
    ``UsageError`` outside 1..47."""
    try:
        return _BY_POSITION[position]
    except KeyError:
        raise UsageError(f"no field {position} (the record has fields 1 to {FULL_WIDTH})") from None
