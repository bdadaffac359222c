"""What the original's conf keys say about a QEMU VM beyond what booting it needs:
``VmFacts`` (ENUMERATE's and the inventory's descriptive fields), a part of ``VmConfig``."""

from __future__ import annotations

from dataclasses import dataclass

# The original's default VNC base port (VNCBASEPORT) and CATEGORY.
VNC_BASEPORT = 5900
DEFAULT_CATEGORY = "VM"


@dataclass(frozen=True, slots=True)
class VmFacts:
    """The conf's descriptive keys (COMPAT §2), as text ("" when the conf is silent).
    DIST/DISTREL/OS/OSREL have their blanks turned into ``_`` (the original's rule)."""

    sessiontype: str = ""
    vmstate: str = ""
    category: str = DEFAULT_CATEGORY
    distrel: str = ""
    osrel: str = ""
    version: str = ""
    serno: str = ""
    hyperrel: str = ""
    stackcap: str = ""
    stackreq: str = ""
    hwcap: str = ""
    hwreq: str = ""
    execlocation: str = ""
    reloccap: str = ""
    sport: str = ""
    ctysrelease: str = ""
    platform: str = ""
    vram: str = ""
    contextstrg: str = ""  # CSTRG
    userstring: str = ""  # USTRG
    defaulthosts: str = ""
    defaultconsole: str = ""
    vncdisplay: str = ""  # VNCACCESSDISPLAY
    vncbaseport: str = ""  # VNCBASEPORT as given ("" = the default 5900)
    wrappercall: str = ""  # WRAPPERCALL (e.g. vdeq): recorded, never run by ctys
    nic_model: str = ""  # NIC (the original's default rtl8139)
    ctysformat: str = ""  # #@#CTYSFORMAT: which ctys wrote the file ("" = not ctys)
    installer: tuple[tuple[str, str], ...] = ()  # INST_* keys, in name order
