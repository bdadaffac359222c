"""The original ctys's conf keys (COMPAT §2) for ``confs.mapping``: the descriptive keys
(``VmFacts``), the addresses of ``#@#MAC<n>``/``#@#IP<n>`` (one per listed IP), the VNC
port of ``VNCACCESSPORT``/``VNCBASEPORT``+``VNCACCESSDISPLAY``, and which variables name
which disk — by the original's meaning (``HDD`` = the fourth IDE disk), or by ctys's
first format (``#@#CTYSFORMAT = 1``: ``HDD`` = the boot disk).
"""

from __future__ import annotations

import string
from collections.abc import Callable
from itertools import chain
from typing import TYPE_CHECKING

from ctys.conf.found import NetAddress
from ctys.plugins.qemu.net.network import MAX_NICS
from ctys.plugins.qemu.vmfacts import DEFAULT_CATEGORY, VNC_BASEPORT, VmFacts

if TYPE_CHECKING:
    from ctys.plugins.qemu.confs.mapping import _Found, _Lookup

CTYSFORMAT_KEY = "CTYSFORMAT"
# What ctys-createConfVM writes now: the original's variable names, HDD never the boot disk.
CTYSFORMAT = "2"
# ctys's first format (HDD = the boot disk, HDD_B.. the others), chosen by this marker only.
LEGACY_CTYSFORMAT = "1"

# The keys copied as they are, by VmFacts attribute (first name found wins).
_TEXT_KEYS: dict[str, tuple[str, ...]] = {
    "sessiontype": ("SESSIONTYPE",),
    "version": ("VERSION",),
    "serno": ("SERNO",),
    "hyperrel": ("HYPERREL",),
    "stackcap": ("STACKCAP",),
    "stackreq": ("STACKREQ",),
    "hwcap": ("HWCAP",),
    "hwreq": ("HWREQ",),
    "execlocation": ("EXECLOCATION",),
    "reloccap": ("RELOCCAP",),
    "sport": ("SPORT",),
    "ctysrelease": ("CTYSRELEASE",),
    "platform": ("PLATFORM",),
    "vram": ("VRAM",),
    "contextstrg": ("CSTRG", "CONTEXTSTRING"),
    "userstring": ("USTRG", "USERSTRING"),
    "defaulthosts": ("DEFAULTHOSTS",),
    "defaultconsole": ("DEFAULTCONSOLE",),
    "vncdisplay": ("VNCACCESSDISPLAY",),
    "vncbaseport": ("VNCBASEPORT",),
    "wrappercall": ("WRAPPERCALL",),
    "nic_model": ("NIC",),
    "ctysformat": (CTYSFORMAT_KEY,),
}
_ATTR_OF = {name: attr for attr, names in _TEXT_KEYS.items() for name in names}
# The keys of NICs 1..7.
_NIC_OF = {f"{base}{nic}": nic for nic in range(1, MAX_NICS) for base in ("MAC", "IP")}
# Blanks become '_' in these (the original: "DIST, DISTREL, OS, OSREL: blanks become _").
BLANKED_KEYS = ("DIST", "DISTREL", "OS", "OSREL")
# The sub-fields of IP<n> after its addresses, in order, and their keys for NIC 0.
_IP_SUBFIELDS = ("netmask", "relay", "ifname", "sshport", "gateway")
_IP_SUBFIELD_KEYS = ("NETMASK", "RELAY", "IFNAME", "SSHPORT", "GATEWAY")

# Disk variables. The original: HDDBOOTIMAGE/HDA is the boot disk, then HDB, HDC and HDD
# (the fourth IDE disk). ctys's own HDD_B..HDD_Z follow them.
_EXTRA_DISKS = tuple(f"HDD_{letter}" for letter in string.ascii_uppercase[1:])
ORIGINAL_DISKS: tuple[tuple[str, ...], ...] = (
    ("HDDBOOTIMAGE", "HDA", "HDD_A"),
    ("HDB",),
    ("HDC",),
    ("HDD",),
    *((name,) for name in _EXTRA_DISKS),
)
LEGACY_DISKS: tuple[tuple[str, ...], ...] = (
    ("HDD", "HDD_A", "HDDBOOTIMAGE"),
    *((name,) for name in _EXTRA_DISKS),
)
_DISK_NAMES = frozenset(name for names in ORIGINAL_DISKS for name in names)


def blank_to_underscore(value: str | None) -> str | None:
    """``Linux Mint`` → ``Linux_Mint`` (runs of blanks one ``_``, as the original's)."""
    return None if value is None else "_".join(value.split())


def facts_of(look: _Lookup) -> VmFacts:
    """The descriptive keys of the conf (``VmFacts``)."""
    keys, variables = look.keys, look.variables
    text = look.text
    # Most confs set few of these: look up only the names that occur (ENUMERATE maps
    # thousands of confs).
    attrs = {_ATTR_OF[name] for name in chain(keys, variables) if name in _ATTR_OF}
    values = {attr: text(*_TEXT_KEYS[attr]) or "" for attr in attrs}
    installer = tuple(
        (name, value.strip())
        for name, value in sorted(keys.items())
        if name.startswith("INST_") and value.strip()
    )
    return VmFacts(
        vmstate=(text("VMSTATE") or "").upper(),
        category=text("CATEGORY") or DEFAULT_CATEGORY,
        distrel=blank_to_underscore(text("DISTREL")) or "",
        osrel=blank_to_underscore(text("OSREL")) or "",
        installer=installer,
        **values,
    )


def split_ip_value(value: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``ip[,ip...][%netmask%relay%ifname%sshport%gateway]`` → (the addresses, the five
    sub-fields, "" where absent)."""
    head, *rest = value.split("%")
    ips = tuple(ip.strip() for ip in head.split(",") if ip.strip())
    subfields = tuple(part.strip() for part in rest[: len(_IP_SUBFIELDS)])
    return ips, subfields + ("",) * (len(_IP_SUBFIELDS) - len(subfields))


def addresses_of(look: _Lookup) -> tuple[NetAddress, ...]:
    """Every address of every NIC: ``MAC<n>``/``IP<n>`` (for NIC 0 also ctys's ``MAC``,
    ``IP``, ``TCP`` and the plain ``NETMASK``.. keys); one ``NetAddress`` per listed IP."""
    text: Callable[..., str | None] = look.text
    found: list[NetAddress] = []
    # NIC 0, and the others whose keys occur at all.
    others = {_NIC_OF[name] for name in chain(look.keys, look.variables) if name in _NIC_OF}
    for nic in (0, *sorted(others)):
        if nic == 0:
            mac, ip = text("MAC0", "MAC"), text("IP0", "IP", "TCP")
        else:
            mac, ip = text(f"MAC{nic}"), text(f"IP{nic}")
        if mac is None and ip is None:
            continue
        ips, subfields = split_ip_value(ip or "")
        if nic == 0 and not all(subfields):
            keys, variables = look.keys, look.variables
            subfields = tuple(
                given or (text(key) or "" if key in keys or key in variables else "")
                for given, key in zip(subfields, _IP_SUBFIELD_KEYS, strict=True)
            )
        named = dict(zip(_IP_SUBFIELDS, subfields, strict=True))
        for address in ips or ("",):
            found.append(NetAddress(nic=nic, mac=mac or "", ip=address, **named))
    return tuple(found)


def vnc_port(look: _Lookup, integer: Callable[..., int | None]) -> int | None:
    """ctys's ``VNCPORT``, else the original's ``VNCACCESSPORT``, else ``VNCBASEPORT``
    (default 5900) + ``VNCACCESSDISPLAY`` when a display is given."""
    port = integer("VNCPORT", "VNCACCESSPORT", low=1, high=65535)
    if port is not None:
        return port
    display = integer("VNCACCESSDISPLAY", low=0, high=65535 - VNC_BASEPORT)
    if display is None:
        return None
    base = integer("VNCBASEPORT", low=1, high=65535)
    port = (VNC_BASEPORT if base is None else base) + display
    return port if port <= 65535 else None


def disk_values(look: _Lookup) -> list[_Found]:
    """The disks the conf names, boot disk first, by the naming its ``CTYSFORMAT`` says."""
    legacy = (look.text(CTYSFORMAT_KEY) or "") == LEGACY_CTYSFORMAT
    present = {*look.keys, *look.variables}
    # Most confs have one disk or none: look up only the names that occur at all.
    if legacy:
        slots = LEGACY_DISKS
    elif present.isdisjoint(_DISK_NAMES):
        return []
    else:
        slots = ORIGINAL_DISKS
    values = []
    for names in slots:
        if present.isdisjoint(names):
            continue
        value = look.find(*names)
        if value is not None:
            values.append(value)
    return values
