"""ENUMERATE's output in the original's form (issue 12, point 3): ``MACHINE`` prints the
47-field record (one ``enum.fdb`` line, no header), field suboptions select fields by the
original's names and aliases and print them in record order. Through the real entry
point; no qemu is booted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ctys.cli.main import main
from ctys.inventory.fields import FULL_WIDTH, MACHINE_FIELDS
from ctys.inventory.settings import scanner_ids, this_host

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
    user, group = scanner_ids()
    assert (field["UID"], field["GID"]) == (user, group) != ("", "")
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


OTHER_HOST_LINE = ";".join(["far", "QEMU", "x", "/far/x.conf", *([""] * 43)])


def test_p_dir_enumerate_writes_the_original_enum_fdb(
    conf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    (db_dir / "enum.fdb").write_text(OTHER_HOST_LINE + "\n")
    code, machine, err = _enumerate(capsys, "ENUMERATE=MACHINE", "-p", str(db_dir))
    assert code == 0, err
    lines = (db_dir / "enum.fdb").read_text().splitlines()
    assert lines == [OTHER_HOST_LINE, *machine]  # the other host's line kept, ours added
    # A second scan replaces this host's lines (no duplicates), and ctys-vhost reads them.
    assert _enumerate(capsys, "ENUMERATE", "-p", str(db_dir))[0] == 0
    assert (db_dir / "enum.fdb").read_text().splitlines() == lines
    from ctys.cli import vhost

    assert vhost.main(["-p", str(db_dir), "-t", "-o", "L", "L:web"]) == 0
    assert capsys.readouterr().out == "web\n"


def test_p_dir_must_exist(conf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _enumerate(capsys, "ENUMERATE", "-p", str(tmp_path / "nope"))
    assert code == 1 and err.count("\n") == 1
    assert not Path(os.environ["CTYS_INVENTORY"]).exists()  # checked before the scan
    assert err.strip().endswith(
        f"no DB directory {tmp_path / 'nope'} (-p names a folder with enum.fdb)"
    )


# --- issue 13: TITLEIDXASC, SORT, TAB_GEN (shared with LIST: ctys.formats) -------------------


@pytest.fixture
def two_confs(conf: Path, ctys_env: dict[str, str]) -> tuple[Path, Path]:
    folder = Path(ctys_env["CTYS_VMPATH"]) / "api"
    folder.mkdir()
    other = folder / "api.conf"
    text = CONF.replace("#@#LABEL = web", "#@#LABEL = api").replace(UUID, UUID[:-4] + "ffff")
    other.write_text(text.format(kernel=conf.parent / "vmlinuz"))
    return conf, other


def test_titleidxasc_names_the_spreadsheet_columns(
    conf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, lines, _ = _enumerate(capsys, "ENUMERATE=MACHINE,TITLEIDXASC")
    title = lines[0].split(";")
    assert title[:3] == ["ContainingMachine(A-1)", "SessionType(B-2)", "Label(C-3)"]
    assert title[26] == "SSHport(AA-27)" and title[-1] == "DefCONSOLE(AU-47)"


def test_sort_on_a_field_number(
    two_confs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, lines, _ = _enumerate(capsys, "ENUMERATE=LABEL,TERSE,SORT:2")  # HOST;LABEL: key 2
    assert [line.split(";")[1] for line in lines] == ["api", "web"]
    _, unique, _ = _enumerate(capsys, "ENUMERATE=ACCEL,TERSE,SORT:UNIQUE%2")
    assert unique == [f"{this_host()};TCG"]  # both VMs have the same key: one line
    code, _, err = _enumerate(capsys, "ENUMERATE=SORT:nope")
    assert code == 2 and "SORT key 'nope'" in err


def test_tab_gen_of_the_47_field_record(
    two_confs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, err = _enumerate(capsys, "ENUMERATE=TAB_GEN:3_Label_6%5_uuid_8_L%30_acc_4,SORT:1")
    assert code == 0, err
    assert lines == [
        "Label |uuid    |acc ",
        "------+--------+----",
        "api   |0000ffff|TCG ",
        "web   |0000abcd|TCG ",
    ]
    _, named, _ = _enumerate(capsys, "ENUMERATE=TAB_GEN:LABEL_x_3,TITLEIDX")
    assert named[:2] == ["x  ", "1(L"]  # a field named (ctys); the index line cut to width
    code, _, err = _enumerate(capsys, "ENUMERATE=TAB_GEN:48")
    assert code == 2 and "no field 48" in err


def test_maxkey_none_and_the_refused_generators(
    conf: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, lines, _ = _enumerate(capsys, "ENUMERATE=MAXKEY")  # the record's key, TERSE
    assert lines == [f"{this_host()};QEMU;web;{conf};{UUID};"]
    _, lines, _ = _enumerate(capsys, "ENUMERATE=UUID,NONE,LABEL,TERSE")
    assert lines == [f"{this_host()};web"]
    code, _, err = _enumerate(capsys, "ENUMERATE=XML_GEN")
    assert code == 2 and "not supported: the original's SPEC/REC/XML generators" in err
