"""QEMU plugin suboptions → typed requests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctys.address.model import AddressKind
from ctys.consoles.kinds import ConsoleKind
from ctys.errors import UsageError
from ctys.invocation import ActionCall, Suboption
from ctys.plugins.qemu.boot.bootspec import BootMode
from ctys.plugins.qemu.requests import parse_create


def call(name: str, *subs: tuple[str, tuple[str, ...]]) -> ActionCall:
    return ActionCall(name, tuple(Suboption(k, a, f"{k}:{'%'.join(a)}") for k, a in subs))


def test_create_full() -> None:
    req = parse_create(
        call(
            "CREATE",
            ("L", ("vm1",)),
            ("BASEPATH", ("/a", "/b")),
            ("CONSOLE", ("vnc",)),
            ("BOOTMODE", ("cd", "/iso/x.iso")),
            ("KERNEL", ("/k", "/i", "console=ttyS0 quiet")),
            ("ARGSADD", ("-device", "virtio-rng-pci")),
        )
    )
    assert req.selector.terms[0].kind is AddressKind.LABEL
    assert req.selector.terms[0].value == "vm1"
    assert req.selector.base_paths == (Path("/a"), Path("/b"))
    assert req.console is ConsoleKind.VNC
    assert req.boot is not None and req.boot.mode is BootMode.CD
    assert req.boot.path == Path("/iso/x.iso")
    assert req.kernel is not None and req.kernel.append == "console=ttyS0 quiet"
    assert req.argsadd == ("-device", "virtio-rng-pci")


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("L", AddressKind.LABEL),
        ("LABEL", AddressKind.LABEL),
        ("UUID", AddressKind.UUID),
        ("MAC", AddressKind.MAC),
        ("IP", AddressKind.IP),
        ("TCP", AddressKind.IP),
        ("F", AddressKind.FILENAME),
        ("FILENAME", AddressKind.FILENAME),
        ("FNAME", AddressKind.FILENAME),
        ("PNAME", AddressKind.PATHNAME),
        ("PATHNAME", AddressKind.PATHNAME),
        ("P", AddressKind.PATHNAME),
        ("U", AddressKind.UUID),
        ("M", AddressKind.MAC),
        ("T", AddressKind.IP),
        ("ID", AddressKind.ID),
        ("I", AddressKind.ID),
        ("VMID", AddressKind.VMID),
        ("DBRECORD", AddressKind.DBRECORD),
        ("DBREC", AddressKind.DBRECORD),
        ("DR", AddressKind.DBRECORD),
    ],
)
def test_address_keys(key: str, kind: AddressKind) -> None:
    value = "7" if kind is AddressKind.DBRECORD else "x"
    assert parse_create(call("CREATE", (key, (value,)))).selector.terms[0].kind is kind


@pytest.mark.parametrize(
    ("subs", "message"),
    [
        ((("BOGUS", ()),), "unknown CREATE suboption 'BOGUS:'"),
        ((("BOOTMODE", ("TAPE",)),), "unknown boot mode 'TAPE'"),
        ((("CONSOLE", ("TTY",)),), "unknown console"),
        ((("L", ()),), "needs exactly one value"),
        ((("L", ("a", "b")),), "needs exactly one value"),
        ((("DR", ("x",)),), "a DBRECORD is a record index from 1"),
        ((("DBRECORD", ("0",)),), "a DBRECORD is a record index from 1"),
        ((("KERNEL", ()),), "expected KERNEL:IMAGE"),
        ((("CONNECT", ("x",)),), "takes no value"),
        ((("RESUME", ("x",)),), "takes no value"),
        ((("RESUME", ()), ("CONNECT", ())), "RESUME continues a paused VM"),
        ((("RESUME", ()), ("CONSOLE", ("CLI",))), "takes no boot or console"),
        ((("RESUME", ()), ("BOOTMODE", ("HDD",))), "takes no boot or console"),
        ((("INSTMODE", ("CD", "", "HDD")),), "5 fields, got 3"),
        ((("INSTMODE", ("CD", "", "TAPE", "", "INIT")),), "bad TGTMODE 'TAPE'"),
    ],
)
def test_create_errors(subs: tuple[tuple[str, tuple[str, ...]], ...], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_create(call("CREATE", *subs))


def test_create_instmode() -> None:
    req = parse_create(
        call("CREATE", ("L", ("vm1",)), ("INSTMODE", ("cd", "/i.iso", "usb", "", "init")))
    )
    assert req.install is not None and req.install.init
    assert req.install.source.mode is BootMode.CD
    assert req.install.source.path == Path("/i.iso")
    assert req.install.target.mode is BootMode.USB and req.install.target.path is None
    assert parse_create(call("CREATE", ("L", ("vm1",)))).install is None


def test_create_resume() -> None:
    req = parse_create(call("CREATE", ("L", ("vm1",)), ("RESUME", ())))
    assert req.resume and not req.connect and not req.reuse
    assert not parse_create(call("CREATE", ("L", ("vm1",)))).resume
