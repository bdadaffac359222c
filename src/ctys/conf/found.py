"""A VM found by its conf file, as every hypervisor describes it: ``FoundVm``.

A plugin turns a parsed conf (``RawConf``) into a ``FoundVm`` (``Plugin.describe``); the
core scans folders for them (``ctys.address.scan``), matches addresses against them
(``ctys.address.match``), resolves an address to one (``ctys.address.resolve``) and keeps
them in the inventory (``ctys.inventory.record``) without knowing the hypervisor. The
plugin gets its own model of the VM back from ``native`` (or maps ``raw`` again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ctys.conf.rawconf import ConfMode, RawConf

# A conf variant that scans and the inventory pass over (one active master per VM).
IGNORE_MARKER = "MAGICID-IGNORE"
# A conf ENUMERATE does not list (addresses still find it).
NOENUM_MARKER = "MAGICID-NOENUM"


@dataclass(frozen=True, slots=True)
class NetAddress:
    """One address of a VM, as the original's ``#@#MAC<n>``/``#@#IP<n>`` keys give it
    (``IP<n> = ip[,ip...][%netmask%relay%ifname%sshport%gateway]``): each listed ``ip`` is
    an address of its own (multihoming), sharing the NIC's MAC and sub-fields. ``nic``: n."""

    nic: int = 0
    mac: str = ""
    ip: str = ""
    netmask: str = ""
    relay: str = ""
    ifname: str = ""
    sshport: str = ""
    gateway: str = ""


class Marked:
    """What a conf's markers (``magic``: the ``MAGICID-*`` words it carries) say of it."""

    __slots__ = ()
    magic: frozenset[str]

    @property
    def ignored(self) -> bool:
        """Whether the conf is a variant marked ``MAGICID-IGNORE``."""
        return IGNORE_MARKER in self.magic

    @property
    def noenum(self) -> bool:
        """Whether the conf is marked ``MAGICID-NOENUM`` (ENUMERATE does not list it)."""
        return NOENUM_MARKER in self.magic


@dataclass(frozen=True, slots=True)  # thousands per ENUMERATE
class FoundVm(Marked):
    """One VM as its conf file describes it, in terms common to every plugin.

    ``stype``: the session type, the name of the plugin whose conf it is (its confs carry
    ``MAGICID-<stype>``). ``mac``/``ip``: the first NIC's MAC and the static address (maybe
    with a ``/prefix``), as an address matches them. ``details``: the further inventory
    fields the plugin knows, by record attribute name (``arch``, ``vcpu``, ``vram``,
    ``accelerator``, ``exepath``, ``vncport``, ``dist``, ``os`` ...). ``native``: the
    plugin's own model of this VM, made while describing it, so that the plugin does not
    read the conf twice; the core never looks into it. ``addresses``: every address of
    every NIC (``NetAddress``), the first being ``mac``/``ip``; ENUMERATE lists one record
    per address. ``vmstate``: the conf's ``VMSTATE`` (``ACTIVE``, ``TEMPLATE``, ... or "").
    """

    stype: str
    conf_path: Path  # absolute
    label: str
    mode: ConfMode = ConfMode.CTYS_CONF
    uuid: str | None = None
    mac: str | None = None
    ip: str | None = None
    magic: frozenset[str] = frozenset()
    details: Mapping[str, str] = field(default_factory=dict)
    addresses: tuple[NetAddress, ...] = ()
    vmstate: str = ""
    raw: RawConf | None = field(default=None, compare=False, repr=False)
    native: object = field(default=None, compare=False, repr=False)
