"""The conf parser's one-regex fast path for simple lines gives exactly what the character
scanner gives: same variables, keys, markers and line numbers, or the same error."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctys.conf.parser import _parse
from ctys.errors import ConfError

CONF = Path("/vms/fast/fast.conf")

# Pieces of real and broken conf syntax (as in test_conf_fuzz).
FRAGMENTS = [
    "A", "B", "VM_1", "=", "export ", " ", "\t", "\n", "\r\n", "#", "#@#", "#@#LABEL", "=",
    " = ", "MAGICID-QEMU", "'", '"', "\\", "\\\n", "$", "$A", "${", "}", "${A}", "${A:-",
    ":-", ":+", "-", "+", "${#", "$(", "$((", ")", "(", "`", ";", "|", "&", ">", "<", "x",
    "1", "/path/to", "if ", "fi", "f()", "{", "é", "\x00", "\x0b", "\u2028",
    "$'", '$"', "$1", "$$", "%", "[", "]", "+=", "~", "*",
]  # fmt: skip
# Line-shaped input: starts that the fast path looks at, then value pieces.
STARTS = ["A=", "VM_1=", "B=", "#@#LABEL = ", "#@#UUID=", "#@#MAGICID-QEMU", "#@#X", "  C=",
          "export D=", "# note ", "#@# prose ", "#@#MAGICID-IGNORE = x", "\\\nE="]  # fmt: skip
PIECES = [*FRAGMENTS, "$A", "${B}", "$VM_1", '"x $A y"', "'q $A'", "abc", "a#b", " #c",
          "\t", "{x}", "~/d", "${A}.img", "$Ax", "$A$B", '"$"', "=", "'", "\r"]  # fmt: skip

line = st.tuples(st.sampled_from(STARTS), st.lists(st.sampled_from(PIECES), max_size=5)).map(
    lambda parts: parts[0] + "".join(parts[1])
)
conf_lines = st.lists(line, max_size=12).map("\n".join)


def outcome(text: str, *, fast: bool) -> object:
    try:
        raw, lines = _parse(text, CONF, fast=fast)
    except ConfError as err:
        return ("error", str(err))
    return (dict(raw.variables), dict(raw.keys), raw.magic, dict(lines.variables),
            dict(lines.keys))  # fmt: skip


def assert_same(text: str) -> None:
    assert outcome(text, fast=True) == outcome(text, fast=False), repr(text)


@settings(max_examples=3000)
@given(conf_lines)
def test_fast_path_matches_scanner_on_line_shaped_text(text: str) -> None:
    assert_same(text)


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join))
def test_fast_path_matches_scanner_on_fragments(text: str) -> None:
    assert_same(text)


@pytest.mark.parametrize(
    "text",
    [
        "#@#MAGICID-QEMU\n#@#LABEL = vm1\nVMNAME=vm1\nHDD=${VMNAME}.qcow2\n",
        "ARGS=\"-name $VMNAME -rtc base=utc\"\nX='lit $A'\n",
        "#@#LABEL = a b  \n#@#DIST=  debian  # comment\n#@#OS\n",
        "A=1\nB=$A$A\nC=${A}x$Ay\n#@#K = $B/${C}\n",
        "A=1 B=2\nC=3;D=4\nE=5 # note\n",
        "A=x\\\ny\n#@#K = v\\\nB=2\n",
        "A=~/x*{y}#z\n#@#MAGICID-IGNORE trailing words\n",
        "#@#LABEL.x = 1\n",
        "A=$(id)\n",
        'A="unterminated\n',
    ],
)
def test_fast_path_matches_scanner_on_examples(text: str) -> None:
    assert_same(text)


def test_fast_path_values() -> None:
    raw, lines = _parse(
        "#@#MAGICID-QEMU\n#@#LABEL = vm 1 \nN=vm1\nHDD=${N}.img\nA=\"-name $N\"\n", CONF,
        fast=True,
    )  # fmt: skip
    assert raw.magic == frozenset({"MAGICID-QEMU"})
    assert raw.keys == {"LABEL": "vm 1"}
    assert raw.variables == {"N": "vm1", "HDD": "vm1.img", "A": "-name vm1"}
    assert lines.keys == {"LABEL": 2} and lines.variables == {"N": 3, "HDD": 4, "A": 5}
