"""The conf writer: what it writes parses back exactly, and nothing in it ever executes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.conf.parser import parse_conf_text
from ctys.errors import CtysError
from ctys.plugins.qemu.confs.mapping import load_vm_config
from ctys.plugins.qemu.newconf.writer import (
    ConfAnswers,
    original_key_safe,
    quote_value,
    render_conf,
)
from ctys.plugins.qemu.vmconfig import Accelerator

UUID = "5a2b7c1e-93d4-4c0e-9f6a-0b1c2d3e4f50"
MAC = "52:54:00:12:34:56"
HOSTILE = [
    "plain",
    "two words",
    "  padded  ",
    "it's",
    'say "hi"',
    "$HOME",
    "${A:-x}",
    "$(touch {marker})",
    "`touch {marker}`",
    "a;touch {marker}",
    "a | b & c > d < e (f)",
    "# not a comment",
    "x #y",
    "back\\slash\\",
    "~/home",
    "'''",
    "\"'\"'",
    "tab\there",
    "ünïcödé ✓",
    "=",
    "",
]


def answers(**kw: object) -> ConfAnswers:
    base: dict[str, object] = {"label": "vm1", "uuid": UUID, "mac": MAC}
    base.update(kw)
    return ConfAnswers(**base)  # type: ignore[arg-type]


def test_full_conf_round_trips_through_load_vm_config(tmp_path: Path) -> None:
    conf = tmp_path / "vm1" / "vm1.conf"
    conf.parent.mkdir()
    text = render_conf(
        answers(
            accelerator=Accelerator.TCG,
            memsize_mb=2048,
            vcpu=4,
            hdd="vm1.qcow2",
            hdd_size="20G",
            cdrom="/iso/debian 12.iso",
            kernel="/boot/vmlinuz",
            initrd="/boot/initrd.img",
            append="console=ttyS0 root=/dev/vda1",
            os="Linux",
            dist="Debian",
            ip="10.0.2.15",
        )
    )
    conf.write_text(text)
    vm = load_vm_config(conf)
    assert text.splitlines()[1] == "#@#MAGICID-QEMU"
    assert vm.raw is not None and "MAGICID-QEMU" in vm.raw.magic
    assert (vm.label, vm.uuid, vm.mac, vm.ip) == ("vm1", UUID, MAC, "10.0.2.15")
    assert (vm.accelerator, vm.memsize_mb, vm.vcpu) == (Accelerator.TCG, 2048, 4)
    assert (vm.os, vm.dist) == ("Linux", "Debian")
    # HDD is relative: it follows the folder wherever it is moved.
    assert vm.hdd == (conf.parent / "vm1.qcow2",)
    assert "HDDBOOTIMAGE=vm1.qcow2\n" in text and "#@#CTYSFORMAT = 2\n" in text
    assert vm.cdrom == Path("/iso/debian 12.iso")
    assert vm.kernel == Path("/boot/vmlinuz")
    assert vm.initrd == Path("/boot/initrd.img")
    assert vm.append == "console=ttyS0 root=/dev/vda1"
    assert vm.raw.keys["HDDSIZE"] == "20G"


def test_absent_fields_are_left_out() -> None:
    text = render_conf(answers())
    for name in ("HDDBOOTIMAGE=", "CDIMAGE=", "KERNELIMAGE=", "#@#IP", "#@#OS", "#@#HDDSIZE"):
        assert name not in text


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_values_read_back_exactly_and_never_run(template: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    value = template.replace("{marker}", str(marker))
    conf = tmp_path / "vm1.conf"
    if not original_key_safe(value):
        # The original reads a key's value up to its first quote: not writable as a key.
        with pytest.raises(CtysError, match="cannot be read back by the original"):
            render_conf(answers(os=value))
        conf.write_text(render_conf(answers(append=value, cdrom=value)))
    else:
        conf.write_text(render_conf(answers(os=value, dist=value, append=value, cdrom=value)))
    raw = parse_conf_text(conf.read_text(), conf)
    if value:
        if "OS" in raw.keys:
            assert raw.keys["OS"] == value
            assert raw.keys["DIST"] == value
        assert raw.variables["APPEND"] == value
        assert raw.variables["CDIMAGE"] == value
    else:
        assert "OS" not in raw.keys and "APPEND" not in raw.variables
    # A real shell sourcing the file sees the same value and runs nothing.
    shell = subprocess.run(
        ["sh", "-c", '. "$1" && printf %s "$APPEND"', "sh", str(conf)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == value
    assert not marker.exists()


def test_hostile_value_survives_vm_config_mapping(tmp_path: Path) -> None:
    conf = tmp_path / "vm1.conf"
    value = "its $(id) `id` x #y"
    conf.write_text(render_conf(answers(os=value, append=value + "'\"")))
    vm = load_vm_config(conf)
    assert vm.os == "its_$(id)_`id`_x_#y"  # the original's rule: blanks in OS become '_'
    assert vm.append == value + "'\""


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\0")))
def test_any_one_line_text_round_trips(value: str) -> None:
    if any((ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) <= 0x9F for c in value):
        with pytest.raises(CtysError, match="line break or control"):
            quote_value(value)
        return
    if value and not original_key_safe(value):
        with pytest.raises(CtysError, match="read back by the original"):
            render_conf(answers(os=value))
        return
    text = render_conf(answers(os=value, append=value))
    raw = parse_conf_text(text, Path("/vms/vm1/vm1.conf"))
    if value:
        assert raw.keys["OS"] == value
        assert raw.variables["APPEND"] == value


@pytest.mark.parametrize(
    "bad", ["two\nlines", "cr\rhere", "nul\0", "bell\x07", "csi\x9b2J", "del\x7f"]
)
def test_multi_line_or_control_values_are_refused(bad: str) -> None:
    with pytest.raises(CtysError, match="line break or control"):
        render_conf(answers(append=bad))


def test_plain_values_stay_bare() -> None:
    assert quote_value("console=ttyS0") == "console=ttyS0"
    assert quote_value("/a/b-c_d.e:f@g%h+i,j") == "/a/b-c_d.e:f@g%h+i,j"
    assert quote_value("a b") == "'a b'"
    assert quote_value("it's") == "'it'\\''s'"
