"""The names of an inventory record's fields, as plain data: their order, positions, aliases
and conf keys (``ctys.inventory.fields`` builds its ``FieldSpec`` table from these rows).

Apart from ``ctys.inventory.fields`` so that what a lean reader needs (the store's columns,
a name or alias to its field: ``ctys-vhost L:x``, ``ctys.inventory.quickread``) loads
without the dataclass machinery; it imports nothing.
"""

from __future__ import annotations

# One field: 1-based position in the original record (None: ctys' own), canonical name,
# aliases (space-separated), the conf key that fills it, a short description.
FieldRow = tuple[int | None, str, str, str | None, str]

# The original's TITLE names of fields 1-47, in order.
TITLES = (
    "ContainingMachine", "SessionType", "Label", "ID", "UUID", "MAC", "TCP", "DISPLAY",
    "ClientAccessPort", "ServerAccessPort", "VNCbasePort", "Distro", "Distrorel", "OS",
    "OSrel", "VersNo", "SerialNo", "Category", "VMstate", "hyperrel", "StackCap", "StackReq",
    "HWCAP", "HWREQ", "ExecLocation", "RelocationCapacity", "SSHport", "netname",
    "hyperrelrun", "accellerator", "exepath", "rsrv", "IFname", "CTYSRelease", "netmask",
    "gateway", "relay", "Arch", "Platform", "VRAM", "VCPU", "ContextStg", "UserStrg", "UID",
    "GID", "DefHOSTs", "DefCONSOLE",
)  # fmt: skip


FIELD_ROWS: tuple[FieldRow, ...] = (
    (1, "HOST", "PM H", None, "the machine the VM was seen from (ContainingMachine)"),
    (2, "STYPE", "TYPE ST", None, "session type: the plugin whose VM it is"),
    (3, "LABEL", "L", "LABEL", "the VM's label"),
    # The original's ID of a VM is its conf file path; F/FILENAME are ctys' own.
    (4, "PNAME", "ID IDS I P F FILENAME", None, "absolute path of the conf file (ID)"),
    (5, "UUID", "U", "UUID", "the VM's UUID"),
    (6, "MAC", "M", "MAC0", "MAC address of the interface of this record"),
    (7, "TCP", "T IP", "IP0", "IP address of the interface of this record"),
    (8, "DISPLAY", "VNCDISPLAY DISP", "VNCACCESSDISPLAY", "VNC display"),
    (9, "VNCPORT", "CPORT", "VNCACCESSPORT", "client (VNC) access port"),
    (10, "SPORT", "SERVERACCESS S", "SPORT", "server access port"),
    (11, "VNCBASE", "", "VNCBASEPORT", "VNC base port"),
    (12, "DIST", "", "DIST", "guest distribution"),
    (13, "DISTREL", "", "DISTREL", "release of the distribution"),
    (14, "OS", "O", "OS", "guest OS"),
    (15, "OSREL", "", "OSREL", "OS release"),
    (16, "VERSION", "VERNO VER", "VERSION", "version number of the VM's conf"),
    (17, "SERNO", "SERIALNUMBER", "SERNO", "serial number of the VM"),
    (18, "CATEGORY", "CAT", "CATEGORY", "category (VM)"),
    (19, "VMSTATE", "VSTAT", "VMSTATE", "state of the VM (ACTIVE, DISABLED, ...)"),
    (20, "HYPERREL", "HYREL", "HYPERREL", "hypervisor release the VM was installed with"),
    (21, "STACKCAP", "SCAP", "STACKCAP", "VM-stack capabilities offered"),
    (22, "STACKREQ", "SREQ", "STACKREQ", "VM-stack capabilities required"),
    (23, "HWCAP", "", "HWCAP", "virtual hardware offered"),
    (24, "HWREQ", "", "HWREQ", "hardware required"),
    (25, "EXECLOCATION", "", "EXECLOCATION", "where the VM may run"),
    (26, "RELOCCAP", "", "RELOCCAP", "relocation behaviour"),
    (27, "SSHPORT", "", "SSHPORT", "ssh port of the guest"),
    (28, "NETNAME", "", None, "DNS name of the interface's address"),
    (29, "HYPERRELRUN", "HYRELRUN HRELRUN HRELX HRX", None, "release of the hypervisor here"),
    (30, "ACCELERATOR", "ACCEL ACCELLERATOR", "ACCELERATOR", "accelerator the hypervisor uses"),
    (31, "EXEPATH", "EXEP", None, "the program that runs the VM (STARTERCALL)"),
    (32, "RESERVED", "RESERVED10 RSRV", None, "reserved"),
    (33, "IFNAME", "IF", "IFNAME", "interface name in the guest"),
    (34, "CTYSRELEASE", "", "CTYSRELEASE", "release of the ctys that wrote the conf"),
    (35, "NETMASK", "", "NETMASK", "netmask of the interface"),
    (36, "GATEWAY", "GW", "GATEWAY", "gateway of the interface"),
    (37, "RELAY", "", "RELAY", "the interconnection (bridge, switch) of the interface"),
    (38, "ARCH", "", "ARCH", "architecture presented to the guest"),
    (39, "PLATFORM", "PFORM", "PLATFORM", "virtual platform"),
    (40, "VRAM", "MEMSIZE MEM", "VRAM", "memory of the VM (MB)"),
    (41, "VCPU", "", "VCPU", "number of virtual CPUs"),
    (42, "CONTEXTSTRG", "CONTEXTSTRING CSTRG", "CSTRG", "the plugin's context string"),
    (43, "USERSTRING", "USTRG", "USTRG", "a string of the user's"),
    (44, "UID", "USERID", None, "user of the scan"),
    (45, "GID", "GROUPID", None, "group of the scan"),
    (46, "DEFHOSTS", "DEFAULTHOSTS DEFH", "DEFAULTHOSTS", "default hosts"),
    (47, "DEFCONSOLE", "DEFAULTCONSOLE DEFCON DEFC", "DEFAULTCONSOLE", "default console"),
    # ctys' own, beyond the original record (not in enum.fdb nor the MACHINE output).
    (None, "MODE", "", None, "conf layout: sh+ctys | ctys-conf"),
    (None, "SCANNED", "", None, "when the record was made, ISO 8601 UTC"),
    (None, "FDBWIDTH", "", None, "fields of the enum.fdb line it was imported from"),
)
"""Every field of a record, in record order: the original's 47, then ctys' own."""

FIELDS: tuple[str, ...] = tuple(row[1] for row in FIELD_ROWS)
"""Every field name in record order (the store's columns, JSON keys)."""

MACHINE_FIELDS: tuple[str, ...] = tuple(row[1] for row in FIELD_ROWS if row[0] is not None)
"""The original's record, 47 names in order: the MACHINE output and an ``enum.fdb`` line."""

FULL_WIDTH = len(MACHINE_FIELDS)  # 47 (release 01.11)

ALIASES: dict[str, str] = {alias: row[1] for row in FIELD_ROWS for alias in row[2].split()}
"""Alias → canonical name, as the original ENUMERATE and ``ctys-vhost -o`` accept them."""

_NAMES = frozenset(FIELDS)


def field_name(upper: str) -> str | None:
    """The canonical name of the field that ``upper`` (a name or alias, in upper case)
    names; ``None`` if it names none."""
    return upper if upper in _NAMES else ALIASES.get(upper)
