"""An original ctys user's VM folders, both generations, written by hand from COMPAT.md §1/§2
and the original's published template (conf/ctys/ctys-createConfVM.d/template.QEMU.ctys):
found by ENUMERATE, address resolution and LIST's matching of foreign qemus, every key read
by the original's rules (first occurrence wins, MAC<n>/IP<n> with '%' sub-fields,
multihoming, VMSTATE/MATCHVSTAT, MAGICID-NOENUM, HDD = the fourth IDE disk...)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ctys.address.model import AddressKind, MachineAddress, MachineSelector
from ctys.cli.main import main
from ctys.conf.found import NetAddress
from ctys.conf.rawconf import ConfMode
from ctys.errors import ConfError
from ctys.plugins.qemu.actions.list import match_conf
from ctys.plugins.qemu.confs.mapping import load_vm_config
from ctys.plugins.qemu.confs.reader import resolve_vm, scanned_vm_configs
from ctys.plugins.qemu.vmconfig import Accelerator

UUID_107 = "11111111-2222-3333-4444-555555555107"
UUID_111 = "11111111-2222-3333-4444-555555555111"

# 01.07: NAME.conf holds the keys and variables (data only), NAME.ctys is the wrapper.
CONF_107 = """\
#@#MAGICID-QEMU
#@#LABEL        = "tst107"
#@#SESSIONTYPE  = "QEMU"
#@#UUID         = "{uuid}"
#@#MAC0         = "00:50:56:13:11:07"
#@#IP0          = "172.20.6.107"
#@#DIST         = 'CentOS'
#@#DISTREL      = "5.1 Final"
#@#OS           = "Linux"
#@#OSREL        = "2.6.18"
#@#VERSION      = "01.07.001"
#@#SERNO        = "2008-07-01-107"
#@#CATEGORY     = "VM"
#@#VMSTATE      = "ACTIVE"
#@#VNCACCESSDISPLAY = 7
#@#USTRG        = "my tst107"
#@#CSTRG        = "ctx-107"
#@#HWCAP        = "VMX"
#@#EXECLOCATION = "LOCAL"
#@#RELOCCAP     = "NONE"
#@#PLATFORM     = "pc"
#@#VRAM         = "8"
#@#VCPU         = 2
#@#CTYSRELEASE  = "01.07.001"
#@#DEFAULTHOSTS = "host01"
#@#DEFAULTCONSOLE = "VNC"
LABEL="tst107"
STARTERCALL=/usr/bin/qemu-system-x86_64
ACCELERATOR=QEMU
MEMSIZE=256
HDDBOOTIMAGE="${{CTYSWRAPPERPATH}}/hda.img"
HDA=${{HDDBOOTIMAGE}}
HDB="${{CTYSWRAPPERPATH}}/hdb.img"
HDD="${{CTYSWRAPPERPATH}}/hdd.img"
CDIMAGE=/iso/centos.iso
FDDIMAGE="${{CTYSWRAPPERPATH}}/fda.img"
FDB="${{CTYSWRAPPERPATH}}/fdb.img"
USBBOOTIMAGE="${{CTYSWRAPPERPATH}}/usb.img"
KERNELIMAGE=/boot/vmlinuz-107
INITRDIMAGE=/boot/initrd-107
"""

WRAPPER_107 = """\
#!/bin/bash
# the 01.07 wrapper: sources the conf and starts qemu
. ${CTYSWRAPPERPATH:-$(dirname $0)}/tst107.conf
if [ -n "$KERNELIMAGE" ]; then ARGS="-kernel $KERNELIMAGE"; fi
exec ${STARTERCALL} -m ${MEMSIZE} -hda ${HDA} $ARGS
"""

# 01.11: NAME.ctys holds keys, variables and shell code; NAME.sh is the wrapper. Two
# MAGICID-QEMU blocks: the first occurrence of a key wins.
CTYS_111 = """\
#  -*- mode: conf; -*-
#@#MAGICID-QEMU
#@#LABEL                     = "tst111"
LABEL="tst111"
#@#SESSIONTYPE               = "QEMU"
#@#UUID                      = "{uuid}"
#@#IP0                       = "10.1.1.11,10.1.2.11%255.255.255.0%10.1.1.1%eth0%2222%10.1.1.254"
#@#MAC0                      = "00:50:56:13:01:11"
MAC0="00:50:56:13:01:11"
#@#MAC1                      = "00:50:56:13:11:11"
#@#IP1                       = "192.168.5.11%255.255.0.0%%eth1%%192.168.5.1"
#@#DIST                      = "Linux Mint"
#@#OS                        = "Linux"
#@#VMSTATE                   = "DISABLED"
#@#VNCBASEPORT               = 6000
#@#VNCACCESSDISPLAY          = 11

STARTERCALL=${{STARTERCALL:-qemu-kvm}}
ACCELERATOR=${{ACCELERATOR:-KVM}}
case ${{ACCELERATOR}} in
    KVM)
	STARTERCALL=${{STARTERCALL:-$QEMUKVM}}
	;;
esac
WRAPPERCALL=${{WRAPPERCALL:-/opt/vde/bin/vdeq}}
HDDBOOTIMAGE="${{CTYSWRAPPERPATH}}/hda.img"
HDA=${{HDDBOOTIMAGE}}
DVDIMAGE=/iso/dvd.iso
DEFAULTINSTTARGET=${{DEFAULTINSTTARGET:-$CTYSWRAPPERPATH/hda.img}}
[ "${{DEFAULTINSTTARGET#/}}" == "$DEFAULTINSTTARGET" ]&&DEFAULTINSTTARGET=${{CTYSWRAPPERPATH}}/x
SMP=${{SMP:-4}}
MEMSIZE=${{MEMSIZE:-1024}}
if [ -n "${{ARCH}}" ];then
    CPU="${{CPU:-qemu64}}"
fi
NIC=${{NIC:-rtl8139}}

#@#MAGICID-QEMU
#@#LABEL                     = "tst111-second-block"
#@#UUID                      = "99999999-2222-3333-4444-555555555111"
"""

WRAPPER_111 = """\
#!/bin/bash
. ${CTYSWRAPPERPATH}/tst111.ctys
exec $WRAPPERCALL $STARTERCALL -hda $HDA
"""


def conf(template: str, label: str, state: str = "", marker: str = "") -> str:
    lines = ["#@#MAGICID-QEMU", f"#@#LABEL = {label}", "#@#MAC0 = 52:54:00:00:00:01"]
    if state:
        lines.append(f"#@#VMSTATE = {state}")
    if marker:
        lines.append(f"#@#{marker}")
    return template + "\n".join(lines) + "\n"


@pytest.fixture
def tree(ctys_env: dict[str, str]) -> Path:
    root = Path(ctys_env["CTYS_VMPATH"])
    for name, files in {
        "tst107": {"tst107.conf": CONF_107.format(uuid=UUID_107), "tst107.ctys": WRAPPER_107},
        "tst111": {"tst111.ctys": CTYS_111.format(uuid=UUID_111), "tst111.sh": WRAPPER_111},
        "backup": {"backup.conf": conf("", "backup", state="BACKUP")},
        "tmpl": {"tmpl.ctys": conf("", "tmpl", state="TEMPLATE")},
        "hidden": {"hidden.conf": conf("", "hidden", marker="MAGICID-NOENUM")},
        "ignored": {"ignored.ctys": conf("", "ignored", marker="MAGICID-IGNORE")},
    }.items():
        (root / name).mkdir()
        for file, text in files.items():
            (root / name / file).write_text(text)
    return root


def enumerate_rows(capsys: pytest.CaptureFixture[str], *subs: str) -> list[dict[str, Any]]:
    action = "ENUMERATE" + ("=" + ",".join(subs) if subs else "")
    code = main(["-t", "QEMU", "-a", action, "-o", "json", "-C", "off"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "skipped" not in captured.err and "Traceback" not in captured.err
    rows: list[dict[str, Any]] = json.loads(captured.out)
    return rows


def test_both_generations_are_enumerated_with_every_field(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = enumerate_rows(capsys)
    # tst107 once; tst111 once per address (two of IP0, one of IP1); not the wrapper
    # tst107.ctys, nor BACKUP/TEMPLATE states, NOENUM or IGNORE.
    assert [(r["LABEL"], r["TCP"]) for r in rows] == [
        ("tst107", "172.20.6.107"),
        ("tst111", "10.1.1.11"),
        ("tst111", "10.1.2.11"),
        ("tst111", "192.168.5.11"),
    ]
    r107, r111, r111b, r111c = rows
    assert r107["PNAME"] == str(tree / "tst107" / "tst107.conf")
    assert r107["MODE"] == ConfMode.SH_CTYS.value  # the tst107.ctys wrapper beside it
    expected_107 = {
        "UUID": UUID_107,
        "MAC": "00:50:56:13:11:07",
        "DIST": "CentOS",
        "DISTREL": "5.1_Final",
        "OS": "Linux",
        "OSREL": "2.6.18",
        "CATEGORY": "VM",
        "VCPU": "2",
        "VRAM": "8",  # #@#VRAM (else MEMSIZE)
        "EXEPATH": str(tree / "tst107" / "tst107.ctys"),  # the wrapper
        "ACCELERATOR": "TCG",  # the original's QEMU
        "VNCPORT": "5907",  # VNCBASEPORT (default 5900) + VNCACCESSDISPLAY
        "USERSTRING": "my tst107",
    }
    assert {k: r107[k] for k in expected_107} == expected_107
    assert r111["PNAME"] == str(tree / "tst111" / "tst111.ctys")
    assert r111["MODE"] == ConfMode.SH_CTYS.value  # tst111.sh beside it
    assert r111["EXEPATH"] == str(tree / "tst111" / "tst111.sh")
    assert (r107["VERSION"], r107["SERNO"], r107["HWCAP"], r107["CONTEXTSTRG"]) == (
        "01.07.001",
        "2008-07-01-107",
        "VMX",
        "ctx-107",
    )
    assert (r107["DISPLAY"], r107["VNCBASE"], r107["DEFHOSTS"], r107["DEFCONSOLE"]) == (
        "7",
        "5900",
        "host01",
        "VNC",
    )
    assert (r107["VMSTATE"], r111["VMSTATE"], r111["VNCBASE"], r111["RELAY"]) == (
        "ACTIVE",
        "DISABLED",
        "6000",
        "10.1.1.1",
    )
    expected_111 = {
        "UUID": UUID_111,  # the first block's, not the second's
        "MAC": "00:50:56:13:01:11",
        "DIST": "Linux_Mint",
        "VNCPORT": "6011",
        "ACCELERATOR": "KVM",
        "VCPU": "4",
        "VRAM": "1024",  # MEMSIZE
        "NETMASK": "255.255.255.0",
        "IFNAME": "eth0",
        "SSHPORT": "2222",
        "GATEWAY": "10.1.1.254",
    }
    assert {k: r111[k] for k in expected_111} == expected_111
    assert {k: r111b[k] for k in expected_111} == expected_111  # same NIC, second IP
    assert (r111c["MAC"], r111c["NETMASK"], r111c["IFNAME"], r111c["GATEWAY"]) == (
        "00:50:56:13:11:11",
        "255.255.0.0",
        "eth1",
        "192.168.5.1",
    )
    assert r111c["SSHPORT"] == "" and r111c["UUID"] == UUID_111


def test_terse_output_has_one_line_per_address(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["-t", "QEMU", "-a", "ENUMERATE=TERSE", "-C", "off"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert [line.split(";")[2] for line in out] == ["tst107", "tst111", "tst111", "tst111"]


def test_the_inventory_keeps_one_record_per_address(
    tree: Path, capsys: pytest.CaptureFixture[str], ctys_env: dict[str, str]
) -> None:
    assert main(["-t", "QEMU", "-a", "ENUMERATE", "-o", "json"]) == 0
    capsys.readouterr()
    assert main(["-t", "QEMU", "-a", "ENUMERATE", "-o", "json", "-C", "list"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert sorted((r["LABEL"], r["TCP"], r["MAC"], r["DISTREL"]) for r in rows) == [
        ("tst107", "172.20.6.107", "00:50:56:13:11:07", "5.1_Final"),
        ("tst111", "10.1.1.11", "00:50:56:13:01:11", ""),
        ("tst111", "10.1.2.11", "00:50:56:13:01:11", ""),
        ("tst111", "192.168.5.11", "00:50:56:13:11:11", ""),
    ]


@pytest.mark.parametrize(
    ("matchvstat", "labels"),
    [
        ("MATCHVSTAT:BACKUP", ["backup"]),
        ("MATCHVSTAT:TEMPLATE%ACTIVE", ["tmpl", "tst107"]),
        ("MATCHVSTAT:ENABLED", ["tst107"]),
        ("MATCHVSTAT:PRESENT", ["backup", "tmpl", "tst107", "tst111"]),
        ("MATCHVSTAT:EMPTY", []),
        ("MATCHVSTAT:ALL", ["backup", "tmpl", "tst107", "tst111"]),
        ("MATCHVSTAT:CUSTOM%DISABLED", ["tst111"]),
    ],
)
def test_matchvstat_chooses_the_states(
    tree: Path, capsys: pytest.CaptureFixture[str], matchvstat: str, labels: list[str]
) -> None:
    rows = enumerate_rows(capsys, matchvstat)
    assert sorted({r["LABEL"] for r in rows}) == labels


def test_an_unknown_matchvstat_state_is_one_line(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["-t", "QEMU", "-a", "ENUMERATE=MATCHVSTAT:SLEEPY", "-C", "off"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "MATCHVSTAT: unknown state 'SLEEPY'" in err[0]


def test_typed_config_of_the_0107_conf(tree: Path) -> None:
    folder = tree / "tst107"
    vm = load_vm_config(folder / "tst107.conf")
    # HDD is the fourth IDE disk; HDDBOOTIMAGE (= HDA) the boot disk; CTYSWRAPPERPATH = folder.
    assert vm.hdd == (folder / "hda.img", folder / "hdb.img", folder / "hdd.img")
    assert (vm.cdrom, vm.fdd, vm.fdb, vm.usb) == (
        Path("/iso/centos.iso"),
        folder / "fda.img",
        folder / "fdb.img",
        folder / "usb.img",
    )
    assert (vm.kernel, vm.initrd) == (Path("/boot/vmlinuz-107"), Path("/boot/initrd-107"))
    assert vm.qemu_binary == "/usr/bin/qemu-system-x86_64"
    assert vm.accelerator is Accelerator.TCG
    facts = vm.facts
    assert (facts.version, facts.serno, facts.hwcap, facts.execlocation) == (
        "01.07.001",
        "2008-07-01-107",
        "VMX",
        "LOCAL",
    )
    assert (facts.reloccap, facts.platform, facts.vram, facts.ctysrelease) == (
        "NONE",
        "pc",
        "8",
        "01.07.001",
    )
    assert (facts.contextstrg, facts.userstring, facts.vmstate) == (
        "ctx-107",
        "my tst107",
        "ACTIVE",
    )
    assert (facts.defaulthosts, facts.defaultconsole, facts.sessiontype) == (
        "host01",
        "VNC",
        "QEMU",
    )
    assert vm.raw is not None and "CTYSWRAPPERPATH" not in vm.raw.variables


def test_typed_config_of_the_0111_ctys_with_shell_code(tree: Path) -> None:
    folder = tree / "tst111"
    vm = load_vm_config(folder / "tst111.ctys")
    assert vm.label == "tst111" and vm.uuid == UUID_111
    assert vm.hdd == (folder / "hda.img",)
    assert vm.cdrom == Path("/iso/dvd.iso") and vm.dvd == Path("/iso/dvd.iso")
    assert vm.qemu_binary == "qemu-kvm" and vm.accelerator is Accelerator.KVM
    assert (vm.vcpu, vm.memsize_mb, vm.vncport) == (4, 1024, 6011)
    assert vm.facts.wrappercall == "/opt/vde/bin/vdeq" and vm.facts.nic_model == "rtl8139"
    assert vm.addresses == (
        NetAddress(0, "00:50:56:13:01:11", "10.1.1.11", "255.255.255.0", "10.1.1.1", "eth0",
                   "2222", "10.1.1.254"),
        NetAddress(0, "00:50:56:13:01:11", "10.1.2.11", "255.255.255.0", "10.1.1.1", "eth0",
                   "2222", "10.1.1.254"),
        NetAddress(1, "00:50:56:13:11:11", "192.168.5.11", "255.255.0.0", "", "eth1", "",
                   "192.168.5.1"),
    )  # fmt: skip
    # The case/if blocks and the '[ ... ]&&' line were passed over, never run.
    assert vm.raw is not None and vm.raw.skipped_lines
    assert "CPU" not in vm.raw.variables


def test_a_strict_conf_with_shell_code_is_still_refused(tmp_path: Path) -> None:
    conf = tmp_path / "x.conf"
    conf.write_text("#@#MAGICID-QEMU\nif true; then A=1; fi\n")
    with pytest.raises(ConfError, match=r"x\.conf:2: "):
        load_vm_config(conf)


@pytest.mark.parametrize(
    ("address", "conf"),
    [
        ((AddressKind.LABEL, "tst111"), "tst111/tst111.ctys"),
        ((AddressKind.LABEL, "tst107"), "tst107/tst107.conf"),
        ((AddressKind.UUID, UUID_111), "tst111/tst111.ctys"),
        ((AddressKind.MAC, "00:50:56:13:01:11"), "tst111/tst111.ctys"),
        ((AddressKind.MAC, "00:50:56:13:11:11"), "tst111/tst111.ctys"),  # NIC 1
        ((AddressKind.IP, "10.1.1.11"), "tst111/tst111.ctys"),
        ((AddressKind.IP, "10.1.2.11"), "tst111/tst111.ctys"),  # multihomed
        ((AddressKind.IP, "172.20.6.107"), "tst107/tst107.conf"),
    ],
)
def test_addresses_resolve_to_both_generations(
    tree: Path, address: tuple[AddressKind, str], conf: str
) -> None:
    vm = resolve_vm(MachineSelector((MachineAddress(*address),)))
    assert vm.conf_path == tree / conf
    # and by its path (F:), read the same way as the scan reads it
    by_path = resolve_vm(MachineSelector((MachineAddress(AddressKind.FILENAME, str(tree / conf)),)))
    assert (by_path.label, by_path.uuid, by_path.addresses) == (vm.label, vm.uuid, vm.addresses)


def test_list_matches_a_foreign_qemu_to_a_0111_conf(tree: Path) -> None:
    confs = scanned_vm_configs([tree])
    names = sorted(c.conf_path.name for c in confs)  # every state: LIST shows what runs
    assert names == ["backup.conf", "hidden.conf", "tmpl.ctys", "tst107.conf", "tst111.ctys"]
    image = str(tree / "tst111" / "hda.img")
    proc = SimpleNamespace(cmdline=SimpleNamespace(uuid=None, image=image, name=None))
    found = match_conf(proc, confs)  # type: ignore[arg-type]
    assert found is not None and found.conf_path == tree / "tst111" / "tst111.ctys"
