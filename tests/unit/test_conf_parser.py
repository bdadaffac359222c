"""Unit tests for the conf-file parser (ctys.conf.parser) and its mapping
(ctys.plugins.qemu.confs.mapping)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ctys.conf.parser import (
    MAX_CONF_BYTES,
    parse_conf_text,
    parse_conf_text_with_lines,
    read_conf,
)
from ctys.conf.rawconf import ConfMode, RawConf
from ctys.errors import ConfError, CtysError
from ctys.plugins.qemu.confs.mapping import load_vm_config, vm_config_from_raw
from ctys.plugins.qemu.vmconfig import Accelerator

CONF = Path("/vms/vm1/vm1.conf")


def parse(text: str) -> RawConf:
    return parse_conf_text(text, CONF)


def variables(text: str) -> dict[str, str]:
    return dict(parse(text).variables)


def refused(text: str) -> ConfError:
    with pytest.raises(ConfError) as info:
        parse(text)
    return info.value


# -- assignments and quoting ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A=1", {"A": "1"}),
        ("A=", {"A": ""}),
        ("export A=1", {"A": "1"}),
        ("export\tA=1 B=2", {"A": "1", "B": "2"}),
        ("  A=1  ", {"A": "1"}),
        ("A=1 B=2", {"A": "1", "B": "2"}),
        ("A=1; B=2;", {"A": "1", "B": "2"}),
        ("A=1 # trailing comment", {"A": "1"}),
        ("A=x#y", {"A": "x#y"}),
        ("A=#x", {"A": "#x"}),
        ("A='single $B `x` $(y) \\n'", {"A": "single $B `x` $(y) \\n"}),
        ('A="dq \\" \\\\ \\$ \\` \\n"', {"A": 'dq " \\ $ ` \\n'}),
        ("A=\"x\"'y'z", {"A": "xyz"}),
        ("A=a\\ b", {"A": "a b"}),
        ("A=\\$B", {"A": "$B"}),
        ("A=$", {"A": "$"}),
        ('A="cost: $ 5"', {"A": "cost: $ 5"}),
        ("A=x=y,z:w/{v}", {"A": "x=y,z:w/{v}"}),
        ("A='multi\nline'", {"A": "multi\nline"}),
        ('A="multi\nline"', {"A": "multi\nline"}),
        ("A=one\\\ntwo", {"A": "onetwo"}),
        ('A="one\\\ntwo"', {"A": "onetwo"}),
        ("A=1 \\\n B=2", {"A": "1", "B": "2"}),
        ("A=1\r\nB=2\r\n", {"A": "1", "B": "2"}),
        ("export=1", {"export": "1"}),
        ("exported=1", {"exported": "1"}),
        ("A=1\nexport A", {"A": "1"}),
        ("A=1\nA=2", {"A": "2"}),
        ("_a9=1", {"_a9": "1"}),
        ("B=$_a9 C=${__}", {"B": "", "C": ""}),  # '_' starts a name: only '$_' is special
        ("A='\ttab'", {"A": "\ttab"}),
        ("#@#X = 1\nRANDOMX=$RANDOMX", {"RANDOMX": ""}),
        ("", {}),
        ("\n\n   \n\t\n", {}),
        ("# only a comment\n#!/bin/bash\n", {}),
    ],
)
def test_assignments(text: str, expected: dict[str, str]) -> None:
    assert variables(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A=1\nB=$A\\\n_", {"A": "1", "B": ""}),  # continuation joins '$A' and '_' into $A_
        ("A=1\nB=${A\\\n}", {"A": "1", "B": "1"}),
        ("A\\\nB=1", {"AB": "1"}),
        ("ex\\\nport A=1", {"A": "1"}),
        ("A=x\\\\\nB=2", {"A": "x\\", "B": "2"}),  # escaped backslash, then a real newline
        ("A='x\\\ny'", {"A": "x\\\ny"}),  # no continuation inside single quotes
        ("# comment \\\nA=1", {"A": "1"}),  # nor at the end of a comment
    ],
)
def test_backslash_newline_is_removed_before_words_like_in_a_shell(
    text: str, expected: dict[str, str]
) -> None:
    assert variables(text) == expected


def test_continuation_cannot_hide_command_substitution() -> None:
    assert "command substitution" in str(refused('A="$\\\n(id)"'))
    assert refused("A=1\nB=$\\\n(id)").line == 2


def test_variables_keep_file_order() -> None:
    assert list(parse("C=1\nA=2\nB=3").variables) == ["C", "A", "B"]


# -- expansion ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("A=1\nB=$A", "B", "1"),
        ("A=1\nB=${A}x", "B", "1x"),
        ("A=1\nB=$Ax", "B", ""),  # $Ax is the (unset) variable Ax, as in a shell
        ('A=1\nB="$A/x"', "B", "1/x"),
        ("A=1\nB='$A'", "B", "$A"),
        ("B=$A\nA=1", "B", ""),  # only earlier assignments count
        ("A=1 B=$A", "B", "1"),  # left to right within a line, like bash
        ("A=0\nexport A=1 B=$A", "B", "0"),  # export expands all words first, like bash
        ("A=1\nA=$A$A", "A", "11"),
        ("B=$UNSET", "B", ""),
        ("B=${UNSET:-dflt}", "B", "dflt"),
        ("A=\nB=${A:-dflt}", "B", "dflt"),
        ("A=\nB=${A-dflt}", "B", ""),
        ("B=${UNSET-dflt}", "B", "dflt"),
        ("A=set\nB=${A:-dflt}", "B", "set"),
        ("A=set\nB=${A:+alt}", "B", "alt"),
        ("B=${UNSET:+alt}", "B", ""),
        ("A=\nB=${A+alt}", "B", "alt"),
        ("B=${UNSET:-two words}", "B", "two words"),
        ("C=c\nB=${UNSET:-$C/x}", "B", "c/x"),
        ("C=c\nB=${UNSET:-${C}}", "B", "c"),
        ("B=${UNSET:-'$lit'}", "B", "$lit"),
        ('B="${UNSET:-"nested"}"', "B", "nested"),
        ("B=${UNSET:-a\\}b}", "B", "a}b"),
        ('A=1\nB="${A}"', "B", "1"),
        ("HOME=/h\nB=$HOME", "B", "/h"),
    ],
)
def test_expansion(text: str, name: str, expected: str) -> None:
    assert variables(text)[name] == expected


def test_environment_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CTYS_TEST_VAR", "from-env")
    assert variables("A=$CTYS_TEST_VAR")["A"] == ""


# -- ctys keys ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "name", "value"),
    [
        ("#@#LABEL = vm1", "LABEL", "vm1"),
        ("#@#LABEL=vm1", "LABEL", "vm1"),
        ("#@#label = vm1", "LABEL", "vm1"),
        ("   #@#LABEL\t=\tvm1\t", "LABEL", "vm1"),
        ('#@#LABEL = "my vm"', "LABEL", "my vm"),
        ("#@#LABEL = 'my $vm'", "LABEL", "my $vm"),
        ("#@#OS = Linux  Mint", "OS", "Linux  Mint"),
        ("#@#VCPU = 2   # two cores", "VCPU", "2"),
        ("#@#APPEND = console=ttyS0 root=/dev/vda", "APPEND", "console=ttyS0 root=/dev/vda"),
        ("#@#OS = Tom\\'s (x|y)", "OS", "Tom's (x|y)"),
        ("#@#UUID", "UUID", ""),
        ("#@#UUID =", "UUID", ""),
        ("#@#Some-Key = v", "SOME-KEY", "v"),
    ],
)
def test_ctys_keys(line: str, name: str, value: str) -> None:
    raw = parse(line)
    assert dict(raw.keys) == {name: value}
    assert raw.variables == {}


def test_ctys_key_values_expand_earlier_variables_only() -> None:
    raw = parse('#@#A = $N\nN=vm1\n#@#LABEL = "${N}-x"\n#@#B = ${N:-d} $M')
    # The blank before the empty $M stays: only unexpanded trailing blanks are cut.
    assert dict(raw.keys) == {"A": "", "LABEL": "vm1-x", "B": "vm1 "}


def test_variables_do_not_see_ctys_keys() -> None:
    assert variables("#@#LABEL = vm1\nA=$LABEL")["A"] == ""


def test_magic_markers() -> None:
    raw = parse("#@#MAGICID-QEMU\n#@#magicid-ignore\n#@#MAGICID-X = whatever\n")
    assert raw.magic == {"MAGICID-QEMU", "MAGICID-IGNORE", "MAGICID-X"}
    assert raw.keys == {}


@pytest.mark.parametrize("line", ["#@#", "#@# prose after a space", "#@############", "#@#-x"])
def test_hash_at_hash_without_key_name_is_a_comment(line: str) -> None:
    raw = parse(line)
    assert raw.keys == {} and raw.magic == frozenset()


def test_plain_comments_are_never_interpreted() -> None:
    assert parse("# A=$(rm -rf /) `x` 'unterminated\n#@ #LABEL = no").keys == {}


def test_quoted_ctys_key_text_inside_a_value_is_not_a_key() -> None:
    raw = parse("A='\n#@#LABEL = no\n'")
    assert raw.keys == {}
    assert raw.variables["A"] == "\n#@#LABEL = no\n"


# -- refusals, each with file:line ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("A=$(id)", 1, "command substitution '$(...)'"),
        ('A="$(id)"', 1, "command substitution '$(...)'"),
        ("A=$((1+2))", 1, "arithmetic expansion"),
        ("A=`id`", 1, "backticks"),
        ('A="`id`"', 1, "backticks"),
        ("A=${B:-$(id)}", 1, "command substitution"),
        ("A=1\n\n#@#LABEL = $(id)", 3, "command substitution"),
        ("#@#LABEL = `id`", 1, "backticks"),
        ("$(id)", 1, "command substitution"),
        ("A='x", 1, "unterminated single quote"),
        ('A=1\nB="x\n\n', 2, "unterminated double quote"),
        ('#@#LABEL = "vm', 1, "unterminated double quote"),
        ("#@#OS = Tom's", 1, "unterminated single quote"),
        ("A=${B", 1, "unterminated '${'"),
        ("A=${B:-x", 1, "unterminated '${'"),
        ("rm -rf /", 1, "not an assignment"),
        ("A=1\nrm -rf /", 2, "'rm -rf /'"),
        ("A=1 rm -rf /", 1, "not an assignment"),
        ("echo hi", 1, "not an assignment"),
        ("if true; then A=1; fi", 1, "shell 'if' statements"),
        ("for x in 1; do :; done", 1, "shell 'for' statements"),
        ("while :; do :; done", 1, "shell 'while'"),
        ("case x in esac", 1, "shell 'case'"),
        ("{ A=1; }", 1, "shell '{'"),
        ("f() { :; }", 1, "function definitions"),
        ("f () { :; }", 1, "function definitions"),
        ("function f { :; }", 1, "function definitions"),
        ("(A=1)", 1, "subshells"),
        ("source other.conf", 1, "including other files"),
        (". other.conf", 1, "including other files"),
        ("A+=1", 1, "append assignment"),
        ("A[0]=1", 1, "array assignment"),
        ("A=(1 2)", 1, "array assignment"),
        ("A=1|cat", 1, "shell operator"),
        ("A=1 >out", 1, "not an assignment"),
        ("A=x>out", 1, "unquoted '>'"),
        ("A=1&", 1, "unquoted '&'"),
        ("A=1&&B=2", 1, "unquoted '&'"),
        ("A=$1", 1, "special parameter '$1'"),
        ("A=$$", 1, "special parameter '$$'"),
        ("A=$?", 1, "special parameter"),
        ("A=$_", 1, "special parameter '$_'"),
        ("A=x$_", 1, "special parameter '$_'"),
        ('A="$_"', 1, "special parameter '$_'"),
        ("A=${_}", 1, "special parameter '$_'"),
        ("A=${_:-x}", 1, "special parameter '$_'"),
        ("A=1\n#@#LABEL = $_", 2, "special parameter '$_'"),
        ("A=1\n_=2", 2, "'_' is a special shell parameter"),
        ("export _=2", 1, "'_' is a special shell parameter"),
        ("A=$!", 1, "special parameter '$!'"),
        ("A=$-", 1, "special parameter '$-'"),
        ("A=$#", 1, "special parameter '$#'"),
        ("A=$@", 1, "special parameter '$@'"),
        ("A=$*", 1, "special parameter '$*'"),
        ("A=$0", 1, "special parameter '$0'"),
        ("A=${1}", 1, "parameter expansion"),
        ("A=${!B}", 1, "parameter expansion"),
        ("A=$RANDOM", 1, "'$RANDOM' is set by the shell"),
        ('A="${LINENO}"', 1, "'$LINENO' is set by the shell"),
        ("A=1\n#@#LABEL = evil\x1b]0;X\x07", 2, "control character U+001B"),
        ("A='a\x07b'", 1, "control character U+0007"),
        ('A=1\n\nB="x\x9by"', 3, "control character U+009B"),
        ("A=x\x7f", 1, "control character U+007F"),
        ("#@#OS = a\rb", 1, "control character U+000D"),
        ("# comment \x1b[2J\nA=1", 1, "control character U+001B"),
        ("A=${#B}", 1, "parameter expansion"),
        ("A=${B%x}", 1, "unsupported parameter expansion"),
        ("A=${B:=x}", 1, "unsupported parameter expansion"),
        ("A=\"${B:-'q'}\"", 1, "single quotes inside"),
        ('A="${B:-x\'q}"', 1, "single quotes inside"),
        ('A="${B:-x<(y)}"', 1, "process substitution"),
        ('A="${B:-<(x)}"', 1, "process substitution '<(...)'"),
        ("A=${B:->(x)}", 1, "process substitution '>(...)'"),
        ("A=${}", 1, "bad substitution"),
        ("A=$'x'", 1, "quoting is not supported"),
        ("; A=1", 1, "empty statement"),
        ("export", 1, "'export' needs"),
        ("export -n A", 1, "not an assignment"),
        ("#@#LABEL vm1", 1, "needs '='"),
        ("A=1\n\n\nB=\0", 4, "binary content"),
    ],
)
def test_refusals_name_file_line_and_problem(text: str, line: int, fragment: str) -> None:
    err = refused(text)
    assert err.line == line
    assert err.path == str(CONF)
    message = str(err)
    assert message.startswith(f"{CONF}:{line}: ")
    assert fragment in message
    assert "\n" not in message


def test_refused_text_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "touched"
    for text in (f"A=$(touch {marker})", f"A=`touch {marker}`", f"touch {marker}"):
        refused(text)
    assert not marker.exists()


def test_line_numbers_count_lines_inside_multiline_quotes() -> None:
    assert refused("A='a\nb\nc'\nrm x").line == 4
    assert refused('A="a\\\nb"\nrm x').line == 3


def test_source_lines_are_tracked() -> None:
    text = "A=1\n\n#@#LABEL = x\nB='m\nl' C=2\nA=3"
    _, lines = parse_conf_text_with_lines(text, CONF)
    assert dict(lines.variables) == {"A": 6, "B": 4, "C": 5}  # C sits on the second line of B
    assert dict(lines.keys) == {"LABEL": 3}


def test_result_mappings_are_read_only() -> None:
    raw = parse("A=1\n#@#B = 2")
    with pytest.raises(TypeError):
        raw.variables["A"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        raw.keys["B"] = "x"  # type: ignore[index]


# -- agreement with bash on what it accepts -------------------------------------------

BASH_CASES = [
    'N=vm1\nD="/srv/$N"\nH=${D}/disk.img # c\nexport X=\'a $b\' Y=\\$z; Z="q\\"x\\$y\\n"',
    'A=\nB=${A:-d} C=${A-d} E=${A:+p} F=${A+p} G=${U:-x y} H="${U:-q\\}}"',
    "A='multi\nline' B=\"two\\\nparts\" C=x\\\ny D=a\\ b\\ c E=#x F=x#y",
    'A=1\nA=$A$A B="${A}-$A" C=${A}x$A D=$ E="$ x" F=x=y',
    "A=1\nB=$A\\\n_ C=${A\\\n} D=x\\\\\nE='p\\\nq' F=\"$\\\nA\" # c \\\nG=g",
]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
@pytest.mark.parametrize("text", BASH_CASES)
def test_values_match_bash(text: str, tmp_path: Path) -> None:
    """These texts only assign variables, so letting bash source them is safe."""
    expected = variables(text)
    conf = tmp_path / "t.conf"
    conf.write_text(text)
    printer = "".join(f'printf "%s\\0" "${name}";' for name in expected)
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", f'. "$1"; {printer}', "bash", str(conf)],
        capture_output=True,
        text=True,
        check=True,
        env={},
    )
    assert result.stdout.split("\0")[:-1] == list(expected.values())


# -- reading files --------------------------------------------------------------------


def test_read_conf(tmp_path: Path) -> None:
    conf = tmp_path / "vm.conf"
    conf.write_text("\ufeff#@#MAGICID-QEMU\nA=1\n", encoding="utf-8")
    raw = read_conf(conf)
    assert raw.path == conf
    assert raw.variables == {"A": "1"}
    assert raw.magic == {"MAGICID-QEMU"}


def test_read_conf_accepts_utf8(tmp_path: Path) -> None:
    conf = tmp_path / "vm.conf"
    conf.write_text("#@#OS = Débian ✓\n", encoding="utf-8")
    assert read_conf(conf).keys == {"OS": "Débian ✓"}


@pytest.mark.parametrize(
    ("content", "line", "fragment"),
    [
        (b"A=1\n\xff\xfe\n", 2, "not UTF-8"),
        (b"A=1\nB=2\n\x00\x01\x02", 3, "binary content"),
        (b"A=1\n" * (MAX_CONF_BYTES // 4 + 1), 0, "larger than"),
    ],
)
def test_read_conf_refuses_bad_content(
    tmp_path: Path, content: bytes, line: int, fragment: str
) -> None:
    conf = tmp_path / "vm.conf"
    conf.write_bytes(content)
    with pytest.raises(ConfError) as info:
        read_conf(conf)
    assert info.value.line == line
    assert str(info.value).startswith(f"{conf}:{line}: ")
    assert fragment in str(info.value)


def test_read_conf_limit_is_inclusive(tmp_path: Path) -> None:
    conf = tmp_path / "vm.conf"
    conf.write_bytes(b"#" * (MAX_CONF_BYTES - 1) + b"\n")
    assert read_conf(conf).variables == {}


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_read_conf_refuses_unreadable(tmp_path: Path, kind: str) -> None:
    conf = tmp_path / "vm.conf"
    if kind == "directory":
        conf.mkdir()
    with pytest.raises(CtysError) as info:
        read_conf(conf)
    assert str(conf) in str(info.value)


# -- mapping to VmConfig --------------------------------------------------------------


def write_vm(tmp_path: Path, text: str, name: str = "vm1") -> Path:
    conf = tmp_path / f"{name}.conf"
    conf.write_text(text)
    return conf


def test_full_conf_maps_every_field(tmp_path: Path) -> None:
    conf = write_vm(
        tmp_path,
        """\
#@#MAGICID-QEMU
#@#LABEL = tst1
#@#UUID = 0b1c2d3e-aaaa-bbbb-cccc-001122334455
#@#MAC = 52:54:00:12:34:56
#@#IP = 10.0.2.15
#@#DIST = Debian
#@#OS = Linux
#@#ARCH = aarch64
#@#ACCELERATOR = tcg
#@#VCPU = 4
#@#MEMSIZE = 2G
#@#VNCPORT = 5905
MACHINE=q35
QEMUBIN=/opt/qemu/bin/qemu-system-aarch64
IMG=disk
HDD=$IMG.qcow2
HDD_C=/data/c.img
HDD_B=b.img
CDROM=iso/inst.iso
FDD=floppy.img
KERNEL=boot/vmlinuz
INITRD=/boot/initrd
APPEND="console=ttyS0 root=/dev/vda"
ARGS="-device 'virtio-rng-pci,id=rng 0' -nodefaults"
""",
    )
    vm = load_vm_config(conf)
    assert vm.conf_path == conf
    assert vm.label == "tst1"
    assert vm.uuid == "0b1c2d3e-aaaa-bbbb-cccc-001122334455"
    assert vm.mac == "52:54:00:12:34:56"
    assert vm.ip == "10.0.2.15"
    assert (vm.dist, vm.os, vm.arch) == ("Debian", "Linux", "aarch64")
    assert vm.accelerator is Accelerator.TCG
    assert (vm.vcpu, vm.memsize_mb, vm.vncport) == (4, 2048, 5905)
    assert vm.machine == "q35"
    assert vm.qemu_binary == "/opt/qemu/bin/qemu-system-aarch64"
    assert vm.hdd == (tmp_path / "disk.qcow2", tmp_path / "b.img", Path("/data/c.img"))
    assert vm.cdrom == tmp_path / "iso/inst.iso"
    assert vm.fdd == tmp_path / "floppy.img"
    assert vm.kernel == tmp_path / "boot/vmlinuz"
    assert vm.initrd == Path("/boot/initrd")
    assert vm.append == "console=ttyS0 root=/dev/vda"
    assert vm.extra_args == ("-device", "virtio-rng-pci,id=rng 0", "-nodefaults")
    assert vm.mode is ConfMode.CTYS_CONF
    assert vm.ignored is False
    assert vm.raw is not None and vm.raw.magic == {"MAGICID-QEMU"}


def test_defaults(tmp_path: Path) -> None:
    vm = load_vm_config(write_vm(tmp_path, "#@#MAGICID-QEMU\n", name="plain"))
    assert vm.label == "plain"
    assert (vm.arch, vm.accelerator, vm.vcpu, vm.memsize_mb) == (
        "x86_64",
        Accelerator.AUTO,
        1,
        512,
    )
    assert (vm.uuid, vm.mac, vm.ip, vm.vncport, vm.cdrom, vm.kernel) == (None,) * 6
    assert vm.hdd == ()
    assert vm.extra_args == ()


def test_ctys_key_wins_over_variable_and_aliases_fall_back(tmp_path: Path) -> None:
    conf = write_vm(
        tmp_path,
        "LABEL=var\n#@#LABEL = key\nTCP=10.0.0.9\nSMP=3\nISO=/x.iso\nHDD_A=/a.img\n"
        "KERNELIMAGE=/k\n#@#VCPU =\n",
    )
    vm = load_vm_config(conf)
    assert vm.label == "key"
    assert vm.ip == "10.0.0.9"
    assert vm.vcpu == 3  # empty #@#VCPU counts as absent
    assert vm.cdrom == Path("/x.iso")
    assert vm.hdd == (Path("/a.img"),)
    assert vm.kernel == Path("/k")


def test_key_aliases_order(tmp_path: Path) -> None:
    vm = load_vm_config(write_vm(tmp_path, "INST_CDROM=/c.iso\nISO=/b.iso\n#@#TCP = 1.1.1.1"))
    assert vm.cdrom == Path("/b.iso")
    assert vm.ip == "1.1.1.1"
    # The original's meaning: HDDBOOTIMAGE is the boot disk, HDD the fourth IDE disk.
    vm = load_vm_config(write_vm(tmp_path, "HDDBOOTIMAGE=/z.img\nHDD=/h.img"))
    assert vm.hdd == (Path("/z.img"), Path("/h.img"))
    # ctys's first format (#@#CTYSFORMAT = 1): HDD is the boot disk.
    legacy = write_vm(tmp_path, "#@#CTYSFORMAT = 1\nHDDBOOTIMAGE=/z.img\nHDD=/h.img")
    assert load_vm_config(legacy).hdd == (Path("/h.img"),)


@pytest.mark.parametrize(
    ("value", "mb"),
    [("512", 512), ("512M", 512), ("512MB", 512), ("2G", 2048), ("2g", 2048), ("1GiB", 1024),
     ("1048576K", 1024), ("1T", 1024 * 1024)],
)  # fmt: skip
def test_memsize_units(tmp_path: Path, value: str, mb: int) -> None:
    assert load_vm_config(write_vm(tmp_path, f"#@#MEMSIZE = {value}")).memsize_mb == mb


@pytest.mark.parametrize(
    ("value", "acc"),
    [("KVM", Accelerator.KVM), ("kvm", Accelerator.KVM), ("TCG", Accelerator.TCG),
     ("auto", Accelerator.AUTO), ("kvm:tcg", Accelerator.AUTO), ("QEMU", Accelerator.TCG)],
)  # fmt: skip
def test_accelerator_spellings(tmp_path: Path, value: str, acc: Accelerator) -> None:
    assert load_vm_config(write_vm(tmp_path, f"ACCELERATOR={value}")).accelerator is acc


def test_smp_qemu_syntax(tmp_path: Path) -> None:
    assert load_vm_config(write_vm(tmp_path, 'SMP="2,sockets=1,cores=2"')).vcpu == 2
    assert load_vm_config(write_vm(tmp_path, "SMP=cpus=6,cores=6")).vcpu == 6


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("A=1\n#@#VCPU = two", 2, "#@#VCPU: not a whole number: 'two'"),
        ("VCPU=0", 1, "VCPU: 0 is out of range"),
        ("\nSMP=-1", 2, "SMP: not a whole number"),
        ("#@#VCPU = ٣", 1, "not a whole number"),
        ("#@#MEMSIZE = lots", 1, "#@#MEMSIZE: not a size"),
        ("MEMSIZE=512B", 1, "MEMSIZE: not a size"),
        ("MEMSIZE=0", 1, "not a positive whole number of MB"),
        ("MEMSIZE=1000K", 1, "not a positive whole number of MB"),
        ("\n\n#@#VNCPORT = 70000", 3, "#@#VNCPORT: 70000 is out of range"),
        ("#@#ACCELERATOR = hvf", 1, "#@#ACCELERATOR: unknown accelerator 'hvf'"),
        ('ARGS="-name \'x"', 1, "ARGS: cannot split into words"),
    ],
)
def test_invalid_values_name_key_file_and_line(
    tmp_path: Path, text: str, line: int, fragment: str
) -> None:
    conf = write_vm(tmp_path, text)
    with pytest.raises(ConfError) as info:
        load_vm_config(conf)
    assert str(info.value) == f"{conf}:{line}: {fragment}" or (
        str(info.value).startswith(f"{conf}:{line}: ") and fragment in str(info.value)
    )


def test_without_lines_errors_say_line_zero() -> None:
    raw = parse_conf_text("\n\nVCPU=x", CONF)
    with pytest.raises(ConfError) as info:
        vm_config_from_raw(raw)
    assert info.value.line == 0
    assert str(info.value).startswith(f"{CONF}:0: VCPU")


def test_mode_sh_ctys_when_wrapper_exists(tmp_path: Path) -> None:
    conf = write_vm(tmp_path, "")
    assert load_vm_config(conf).mode is ConfMode.CTYS_CONF
    (tmp_path / "vm1.ctys").write_text("#!/bin/sh\n")
    assert load_vm_config(conf).mode is ConfMode.SH_CTYS


def test_ignored_marker(tmp_path: Path) -> None:
    assert load_vm_config(write_vm(tmp_path, "#@#MAGICID-IGNORE")).ignored is True
    assert load_vm_config(write_vm(tmp_path, "#@#MAGICID-QEMU")).ignored is False


def test_relative_conf_path_gives_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_vm(tmp_path, "HDD=d.img\nCDROM=../i.iso")
    monkeypatch.chdir(tmp_path)
    vm = load_vm_config(Path("vm1.conf"))
    assert vm.conf_path == tmp_path / "vm1.conf"
    assert vm.hdd == (tmp_path / "d.img",)
    assert vm.cdrom == tmp_path / "../i.iso"


def test_tilde_paths_use_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    vm = load_vm_config(write_vm(tmp_path, "HDD='~/vms/d.img'"))
    assert vm.hdd == (Path("/home/someone/vms/d.img"),)


def test_example_in_docs_loads(tmp_path: Path) -> None:
    doc = Path(__file__).parents[2] / "docs" / "conf-format.md"
    example = doc.read_text().split("```sh\n", 1)[1].split("```", 1)[0]
    vm = load_vm_config(write_vm(tmp_path, example, name="tst100"))
    assert vm.label == "tst100"
    assert (vm.vcpu, vm.memsize_mb, vm.accelerator) == (2, 1024, Accelerator.AUTO)
    assert vm.hdd == (tmp_path / "images/tst100.qcow2", tmp_path / "images/data.raw")
    assert vm.cdrom == Path("/srv/iso/debian-12-netinst.iso")
    assert vm.append == "console=ttyS0 root=/dev/vda1"
    assert vm.extra_args == ("-device", "virtio-rng-pci", "-serial", "file:/tmp/tst100 serial.log")
    assert vm.raw is not None and vm.raw.magic == {"MAGICID-QEMU"}
