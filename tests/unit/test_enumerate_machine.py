"""ENUMERATE's output in the original's form (issue 12, point 3): ``MACHINE`` prints the
47-field record (one ``enum.fdb`` line, no header), field suboptions select fields by the
original's names and aliases and print them in record order. Through the real entry
point; no qemu is booted."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctys.cli.main import main
from ctys.inventory.fields import FULL_WIDTH, MACHINE_FIELDS
from ctys.inventory.settings import this_host

UUID = "0a1b2c3d-0000-4000-8000-00000000abcd"
CONF = f"""\
#@#MAGICID-QEMU
#@#LABEL = web
#@#UUID = {UUID}
#@#DISTREL = 12
#@#STACKCAP = QEMU
#@#USTRG = note
#@#ACCELERATOR = TCG
KERNEL={{kernel}}
"""


@pytest.fixture
def conf(ctys_env: dict[str, str]) -> Path:
    folder = Path(ctys_env["CTYS_VMPATH"]) / "web"
    folder.mkdir()
    (folder / "vmlinuz").write_bytes(b"not really a kernel")
    path = folder / "web.conf"
    path.write_text(CONF.format(kernel=folder / "vmlinuz"))
    return path


def _enumerate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(["-t", "QEMU", "-a", *argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out.splitlines(), captured.err


def test_machine_prints_the_47_field_record_without_header(
    conf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, err = _enumerate(capsys, "ENUMERATE=MACHINE")
    assert code == 0, err
    assert len(lines) == 1
    values = lines[0].split(";")
    assert len(values) == FULL_WIDTH == 47
    field = dict(zip(MACHINE_FIELDS, values, strict=True))
    assert field["HOST"] == this_host()
    assert (field["STYPE"], field["LABEL"], field["PNAME"]) == ("QEMU", "web", str(conf))
    assert field["UUID"] == UUID
    assert (field["DISTREL"], field["STACKCAP"], field["USERSTRING"]) == ("12", "QEMU", "note")
    assert field["ACCELERATOR"] == "TCG"
    assert values[2] == "web" and values[4] == UUID and values[12] == "12"  # positions 3, 5, 13


def test_machine_title_and_titleidx_are_the_original_names(
    conf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, lines, _ = _enumerate(capsys, "ENUMERATE=MACHINE,TITLE")
    assert lines[0].split(";")[:4] == ["ContainingMachine", "SessionType", "Label", "ID"]
    assert len(lines[0].split(";")) == 47 and len(lines) == 2
    _, lines, _ = _enumerate(capsys, "ENUMERATE=MACHINE,TITLEIDX")
    assert lines[0].split(";")[2] == "Label(3)" and lines[0].endswith(";DefCONSOLE(47)")


@pytest.mark.parametrize(
    ("suboptions", "expected"),
    [
        ("UUID,LABEL,TERSE", ["web", UUID]),  # record order, not the order given
        ("L,U,TERSE", ["web", UUID]),
        ("DISTREL,USTRG,STACKCAP,TERSE", ["12", "QEMU", "note"]),
        ("ID,TERSE", ["{conf}"]),
        ("TYPE,L,TERSE", ["QEMU", "web"]),
    ],
)
def test_field_suboptions_select_by_original_names_and_aliases(
    conf: Path, capsys: pytest.CaptureFixture[str], suboptions: str, expected: list[str]
) -> None:
    code, lines, err = _enumerate(capsys, f"ENUMERATE={suboptions}")
    assert code == 0, err
    # The containing machine comes first, as the original prints it.
    assert lines == [";".join([this_host(), *(e.format(conf=conf) for e in expected)])]


def test_field_suboptions_make_a_table_with_those_columns(
    conf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, err = _enumerate(capsys, "ENUMERATE=LABEL,UUID")
    assert code == 0, err
    assert lines[0].split() == ["HOST", "LABEL", "UUID"]
    assert lines[-1].split() == [this_host(), "web", UUID]


def test_an_unknown_field_suboption_is_one_usage_error(
    conf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, err = _enumerate(capsys, "ENUMERATE=LABEL,NOSUCHFIELD")
    assert code == 2 and lines == []
    assert err.strip() == "ctys: unknown ENUMERATE suboption 'NOSUCHFIELD'"
