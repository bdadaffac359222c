"""The core finds VMs of any plugin: conf scanning (``address.scan``), address resolution
(``address.resolve``) and inventory records (``inventory.record``) ask the plugins they are
given (``magic_id``, ``describe``, ``confs_with_learned_ip``) and know no hypervisor. The
proof is the test-only FAKE plugin (``tests/fakeplugin``), whose confs carry MAGICID-FAKE."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ctys.address.model import AddressKind, MachineAddress, MachineSelector
from ctys.address.resolve import resolve_one
from ctys.address.scan import scan_vms
from ctys.conf.found import FoundVm
from ctys.conf.parser import SourceLines
from ctys.conf.rawconf import RawConf
from ctys.errors import AddressError
from ctys.inventory.record import record_from_found
from ctys.inventory.store import Inventory

FAKEPLUGIN = Path(__file__).resolve().parents[1] / "fakeplugin"

FAKE_CONF = """\
#@#MAGICID-FAKE
#@#LABEL = {label}
#@#UUID = {uuid}
#@#MAC = {mac}
#@#IP = 10.7.0.{n}
#@#SPECIES = cat
"""
QEMU_CONF = "#@#MAGICID-QEMU\n#@#LABEL = {label}\n"
UUID1 = "f0000000-0000-4000-8000-000000000001"


@pytest.fixture
def fake() -> Any:
    """The FAKE plugin, imported from ``tests/fakeplugin`` as its entry point names it."""
    sys.path.insert(0, str(FAKEPLUGIN))
    try:
        from ctys_fake import FakePlugin

        return FakePlugin()
    finally:
        sys.path.remove(str(FAKEPLUGIN))


@pytest.fixture
def tree(short_tmp: Path) -> Path:
    """Two FAKE confs, one QEMU conf and a conf of nobody."""
    root = short_tmp / "vms"
    for n, label in enumerate(("pet1", "pet2"), start=1):
        folder = root / "fake" / label
        folder.mkdir(parents=True)
        conf = FAKE_CONF.format(
            label=label, uuid=UUID1[:-1] + str(n), mac=f"52:54:00:ff:00:0{n}", n=n
        )
        (folder / f"{label}.conf").write_text(conf)
    (root / "qemu").mkdir()
    (root / "qemu" / "web.conf").write_text(QEMU_CONF.format(label="web"))
    (root / "notes.conf").write_text("LABEL=pet1\n")
    return root


def sel(kind: AddressKind, value: str, *bases: Path) -> MachineSelector:
    return MachineSelector((MachineAddress(kind, value),), tuple(bases))


def test_a_scan_finds_the_confs_of_the_plugins_it_is_given(tree: Path, fake: Any) -> None:
    result = scan_vms([tree], (fake,))
    assert result.errors == ()
    assert [(e.stype, e.label) for e in result.vms] == [("FAKE", "pet1"), ("FAKE", "pet2")]
    pet1 = result.vms[0]
    assert pet1.conf_path == tree / "fake" / "pet1" / "pet1.conf"
    assert (pet1.uuid, pet1.mac, pet1.ip) == (UUID1, "52:54:00:ff:00:01", "10.7.0.1")
    assert "MAGICID-FAKE" in pet1.magic
    assert pet1.raw is not None and pet1.raw.keys["SPECIES"] == "cat"


def test_the_address_of_a_fake_vm_resolves_by_scan(tree: Path, fake: Any) -> None:
    for kind, value in (
        (AddressKind.LABEL, "pet2"),
        (AddressKind.UUID, UUID1[:-1] + "2"),
        (AddressKind.MAC, "52-54-00-FF-00-02"),
        (AddressKind.IP, "10.7.0.2"),
    ):
        entry = resolve_one(sel(kind, value, tree), readers=(fake,))
        assert (entry.stype, entry.label) == ("FAKE", "pet2"), kind
    conf = tree / "fake" / "pet1" / "pet1.conf"
    assert resolve_one(sel(AddressKind.FILENAME, str(conf)), readers=(fake,)).label == "pet1"
    with pytest.raises(AddressError, match="no VM matches"):
        resolve_one(sel(AddressKind.LABEL, "web", tree), readers=(fake,))


def test_an_ip_no_conf_names_is_asked_of_the_plugin(
    tree: Path, fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The address a running VM's guest reported: the plugin knows it, the confs do not.
    learned = tree / "fake" / "pet2" / "pet2.conf"
    monkeypatch.setattr(
        fake, "confs_with_learned_ip", lambda ip: [learned] if ip == "10.9.9.9" else []
    )
    assert resolve_one(sel(AddressKind.IP, "10.9.9.9", tree), readers=(fake,)).label == "pet2"
    with pytest.raises(AddressError, match="no VM matches"):
        resolve_one(sel(AddressKind.IP, "10.9.9.8", tree), readers=(fake,))


def test_a_fake_record_names_its_plugin_and_its_program(tree: Path, fake: Any) -> None:
    entry = scan_vms([tree], (fake,)).vms[0]
    record = record_from_found(entry, "h1", 0.0)
    assert (record.stype, record.label, record.host) == ("FAKE", "pet1", "h1")
    assert record.exepath == fake.EXEPATH
    assert (record.uuid, record.mac, record.tcp) == (UUID1, "52:54:00:ff:00:01", "10.7.0.1")
    assert record.pname == str(tree / "fake" / "pet1" / "pet1.conf")


class Other:
    """A second plugin's conf reader: none of the confs here is its."""

    name = "OTHER"
    magic_id = "MAGICID-OTHER"
    vm_home = "other-vms"

    def describe(self, raw: RawConf, lines: SourceLines | None) -> FoundVm:
        raise AssertionError(f"OTHER was asked to describe {raw.path}")

    def confs_with_learned_ip(self, ip: str) -> list[Path]:
        return []


def test_the_inventory_answers_for_the_plugin_of_its_rows(
    tree: Path, fake: Any, short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = short_tmp / "inv.sqlite"
    records = [
        record_from_found(e, "localhost", time.time()) for e in scan_vms([tree], (fake,)).vms
    ]
    with Inventory.open(db) as inv:
        inv.replace_scan("localhost", [tree], records)
    assert resolve_one(sel(AddressKind.LABEL, "pet1"), db, readers=(fake,)).stype == "FAKE"
    # Another plugin's resolution passes over FAKE's rows (and its scan over FAKE's confs).
    monkeypatch.setenv("CTYS_VMPATH", str(tree))
    with pytest.raises(AddressError, match=r"no VM matches LABEL:pet1 .*not in the inventory"):
        resolve_one(sel(AddressKind.LABEL, "pet1"), db, readers=(Other(),), err=io.StringIO())
    # A row without a session type (an imported cacheDB line) is any plugin's.
    with Inventory.open(db) as inv:
        inv.replace_scan("localhost", [tree], [replace(r, stype="") for r in records])
    assert resolve_one(sel(AddressKind.LABEL, "pet2"), db, readers=(Other(), fake)).stype == "FAKE"


def test_the_core_scans_and_resolves_fake_confs_without_loading_qemu(tree: Path) -> None:
    # A fresh interpreter: the FAKE plugin found by its entry point, and no module of the
    # QEMU plugin imported by the core's scan, resolution and records.
    script = f"""
import json, sys
from pathlib import Path
from ctys.address.model import AddressKind, MachineAddress, MachineSelector
from ctys.address.resolve import resolve_one
from ctys.address.scan import scan_vms
from ctys.inventory.record import record_from_found
from ctys.plugins.registry import load_plugin

fake = load_plugin("FAKE")
root = Path({str(tree)!r})
found = scan_vms([root], (fake,)).vms
entry = resolve_one(MachineSelector((MachineAddress(AddressKind.LABEL, "pet2"),), (root,)),
                    readers=(fake,))
record = record_from_found(entry, "h", 0.0)
qemu = sorted(m for m in sys.modules if m.startswith("ctys.plugins.qemu"))
print(json.dumps([[e.label for e in found], record.stype, record.label, qemu]))
"""
    env = {**os.environ, "PYTHONPATH": str(FAKEPLUGIN)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [["pet1", "pet2"], "FAKE", "pet2", []]


def test_default_vm_folders_are_each_plugins_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No folder name in the core: without $CTYS_VMPATH each plugin's vm_home under $HOME.
    from ctys.conf.vmpath import default_base_paths

    monkeypatch.delenv("CTYS_VMPATH", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_base_paths(["qemu", "fake-vms", "qemu"]) == (
        tmp_path / "qemu",
        tmp_path / "fake-vms",
    )
    monkeypatch.setenv("CTYS_VMPATH", "/a::/b")
    assert default_base_paths(["qemu"]) == (Path("/a"), Path("/b"))
