"""The lenient reading of a 01.11 ``NAME.ctys`` (``ctys.conf.lenient``): shell code passed
over, data kept with its line numbers; ``NAME.conf`` stays strict."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ctys.conf.lenient import parse_vm_conf_text
from ctys.errors import ConfError

CTYS = Path("/vms/a/a.ctys")


def test_blocks_and_commands_are_passed_over_and_data_kept() -> None:
    text = (
        "#@#MAGICID-QEMU\n"  # 1
        "A=1\n"  # 2
        "case $A in\n"  # 3
        "  1) B=inside;;\n"  # 4
        "esac\n"  # 5
        '[ -n "$A" ]&&C=cmd\n'  # 6
        "if [ x ]; then D=1; fi\n"  # 7
        "f() {\n"  # 8
        "  E=1\n"  # 9
        "}\n"  # 10
        "echo hi\n"  # 11
        "#@#LABEL = a\n"  # 12
        "F=$A-2\n"  # 13
    )
    raw, lines = parse_vm_conf_text(text, CTYS)
    assert dict(raw.variables) == {"A": "1", "F": "1-2"}
    assert raw.keys == {"LABEL": "a"} and lines.keys["LABEL"] == 12
    assert lines.variables["F"] == 13
    assert raw.skipped_lines == (3, 4, 5, 6, 7, 8, 9, 10, 11)


def test_a_key_inside_a_block_still_counts() -> None:
    raw, _ = parse_vm_conf_text("if true; then\n#@#LABEL = x\nfi\n", CTYS)
    assert raw.keys == {"LABEL": "x"}


def test_a_dot_conf_with_shell_code_is_refused() -> None:
    with pytest.raises(ConfError, match=r"a\.conf:2: "):
        parse_vm_conf_text("A=1\necho hi\n", Path("/vms/a/a.conf"))


def test_a_ctys_read_whole_has_no_skipped_lines() -> None:
    raw, _ = parse_vm_conf_text("A=1\n#@#LABEL = a\n", CTYS)
    assert raw.skipped_lines == ()


def test_many_bad_lines_cost_little() -> None:
    # Lines that look like data but are not (command substitution): each costs a re-parse,
    # capped; commands are passed over up front.
    text = "echo x\n" * 20000 + 'A="$(x)"\n' * 500
    start = time.monotonic()
    with pytest.raises(ConfError, match="more than 100 lines"):
        parse_vm_conf_text(text, CTYS)
    assert time.monotonic() - start < 20
    raw, _ = parse_vm_conf_text("echo x\n" * 20000 + "A=1\n", CTYS)
    assert raw.variables == {"A": "1"}
