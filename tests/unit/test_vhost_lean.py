"""ctys-vhost's fast path (ctys.cli.vhostlean) prints exactly what the full path
(ctys.cli.vhostfull) prints, with the same status, and declines whatever it does not do."""

from __future__ import annotations

import errno
import io
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctys.cli import vhost, vhostfull, vhostlean, vhostout
from ctys.errors import ExitStatus
from ctys.inventory.fieldnames import field_name
from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import Inventory

UUID = "0A1B2C3D-0000-4000-8000-00000000ABCD"
RECORDS = [
    InventoryRecord(host="h1", stype="QEMU", label="web1", pname="/v/web1.conf",
                    uuid=UUID.lower(), mac="52:54:00:aa:bb:01", tcp="10.0.0.1", dist="debian",
                    os="Linux", accelerator="KVM"),
    InventoryRecord(host="h2", stype="QEMU", label="web1", pname="/v/web1.conf",
                    uuid=UUID.lower(), mac="52:54:00:aa:bb:01", tcp="10.0.0.1"),
    InventoryRecord(host="h1", stype="QEMU", label="db", pname="/v/db.conf", uuid="u-2",
                    tcp="10.0.0.2/24", ifname="eth0"),
    InventoryRecord(host="h1", label="semi;colon\\back\nline\x1b[31m", pname="/v/odd.conf",
                    userstring="tab\there"),
    InventoryRecord(host="h1", label="caf\u00e9", pname="/v/cafe.conf", os="[bold]x"),
]  # fmt: skip


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lean") / "inv.sqlite"
    with Inventory.open(path) as inventory:
        inventory.add(RECORDS)
    return path


def _run(args: list[str], *, lean: bool) -> tuple[int, str, str]:
    """``ctys-vhost args`` (``lean``: as installed, else the full path alone)."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        status = vhost.main(args) if lean else vhostfull.main(list(args))
    finally:
        sys.stdout, sys.stderr = saved
    return status, out.getvalue(), err.getvalue()


def _answered(args: list[str]) -> bool:
    """Whether the fast path answers ``args`` itself."""
    saved = sys.stdout
    sys.stdout = io.StringIO()
    try:
        return vhostlean.answer(args) is not None
    finally:
        sys.stdout = saved


ANSWERED = [
    ["L:web1"], ["l:web1"], ["LABEL=web1"], ["label:web1"], [f"U:{UUID}"],
    ["MAC=52:54:00:AA:BB:01"], ["T:10.0.0.2/24"], ["L:nothing"], ["-t", "L:web1"],
    ["-j", "L:web1"], ["-j", "L:nothing"],
    ["-t", "--title", "-o", "label,uuid", "H:h1"], ["-o", "MACHINE", "L:web1"],
    ["-o", "TERSE,TITLE", "L:db"], ["-o", "MAXKEY, IP", "L:web1"], ["-o", ",label,,", "L:db"],
    ["--host", "h2", "L:web1"], ["--host=h2", "L:web1"], ["L:web1", "AND", "H:h1"],
    ["L:web1", "and", "H:h2"], ["L:web1", "H:h3"], ["-M", " all,ALL", "L:web1"], ["L:db", "-t"],
    ["-t", "H:h1"], ["-j", "H:h1"], ["-o", "label,userstring", "L:db"], ["IF=eth0"],
    ["L=caf\u00e9", "-t"], ["L=caf\u00e9", "-j"], ["L:"],
]  # fmt: skip
DECLINED = [
    ["web1"], ["L:web1", "OR", "L:db"], ["NOT", "L:web1"], ["-M", "FIRST", "L:web1"],
    ["-o", "DNS", "L:web1"], ["-o", "INDEX", "L:web1"], ["-o", "label:x", "L:web1"],
    ["-o", "nosuch", "L:web1"], ["-o", "TAB_GEN", "L:web1"], ["-t", "-j", "L:web1"],
    ["L:web1", "AND"], ["AND", "L:web1"], ["L:web1", "AND", "AND", "H:h1"],
    ["L:web1", "-t", "L:db"], ["-o"], ["-h"], ["F:3:^web1$"], ["X:web1"], ["-o", "label"],
    ["--host", "h1"], ["-tj", "L:web1"], ["-oLABEL", "L:web1"], ["--inventory=", "L:web1"],
    ["--title=x", "L:web1"], ["-d", "2", "L:web1"], ["MACRO:x"], ["-C", "LIST"], ["L=caf\u00e9"],
    ["--", "L:web1"], ["-", "L:web1"], ["L:web1", "--format", "ctys"],
]  # fmt: skip


def _with_db(args: list[str], db: Path) -> list[str]:
    return ["--inventory", str(db), *args]


@pytest.mark.parametrize("args", ANSWERED, ids=" ".join)
def test_the_fast_path_answers_exactly_as_the_full_one(args: list[str], db: Path) -> None:
    argv = _with_db(args, db)
    assert _answered(argv)
    assert _run(argv, lean=True) == _run(argv, lean=False)


@pytest.mark.parametrize("args", DECLINED, ids=" ".join)
def test_what_the_fast_path_declines_the_full_one_answers(args: list[str], db: Path) -> None:
    argv = _with_db(args, db)
    assert not _answered(argv)
    assert _run(argv, lean=True) == _run(argv, lean=False)


def test_the_forms_of_naming_the_inventory(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(db.parent)
    for argv in (["-c", str(db), "L:db"], [f"--inventory={db}", "L:db"], ["-c", db.name, "L:db"]):
        assert _answered(argv)
        assert _run(argv, lean=True) == _run(argv, lean=False)
        assert _run(argv, lean=True)[0] == 0
    monkeypatch.setenv("CTYS_INVENTORY", str(db))
    assert _answered(["L:db"])
    assert _run(["L:db"], lean=True) == _run(["L:db"], lean=False)
    monkeypatch.setenv("HOME", str(db.parent))
    assert _run(["-c", f"~/{db.name}", "L:db"], lean=True)[1].startswith("label")


def test_an_inventory_that_needs_a_closer_look_goes_the_full_path(tmp_path: Path) -> None:
    text = tmp_path / "text.sqlite"
    text.write_text("not sqlite\n")
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    for path in (tmp_path / "missing.sqlite", text, empty, tmp_path):
        argv = ["--inventory", str(path), "L:db"]
        assert not _answered(argv)
        status, out, err = _run(argv, lean=True)
        assert (status, out, err) == _run(argv, lean=False)
        assert status == 1 and out == ""


@settings(max_examples=120, deadline=None)
@given(
    st.lists(
        st.sampled_from(["-t", "-j", "--title", "-o", "label,os", "-o", "MAXKEY", "--host", "h1"]),
        max_size=3,
    ),
    st.lists(
        st.tuples(
            st.sampled_from(["L", "label", "U", "M", "H", "T", "OS", "dist", "F", "X", "P"]),
            st.sampled_from([":", "="]),
            st.sampled_from(["web1", "db", UUID, "h1", "Linux", "10.0.0.1", "", "/v/db.conf"]),
        ),
        min_size=1,
        max_size=3,
    ),
    st.booleans(),
)
def test_random_queries_print_the_same_both_ways(
    db: Path, options: list[str], terms: list[tuple[str, str, str]], joined: bool
) -> None:
    words = [f"{name}{sep}{value}" for name, sep, value in terms]
    if joined:
        words = [w for word in words for w in ("AND", word)][1:]
    argv = _with_db([*options, *words], db)
    assert _run(argv, lean=True) == _run(argv, lean=False)


class Broken(io.StringIO):
    """A text stream whose writes fail with ``code``."""

    def __init__(self, code: int) -> None:
        super().__init__()
        self.code = code

    def write(self, text: str) -> int:
        raise OSError(self.code, "No space left on device" if self.code == errno.ENOSPC else "x")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EPIPE])
def test_output_that_cannot_be_written_ends_as_on_the_full_path(
    code: int, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = []
    for entry in (vhost.main, vhostfull.main):
        err = io.StringIO()
        monkeypatch.setattr(sys, "stdout", Broken(code))
        monkeypatch.setattr(sys, "stderr", err)
        results.append((entry(_with_db(["-t", "L:web1"], db)), err.getvalue()))
    assert results[0] == results[1]
    if code == errno.EPIPE:
        assert results[0] == (ExitStatus.BROKEN_PIPE, "")
    else:
        assert results[0] == (1, "ctys-vhost: cannot write to stdout: No space left on device\n")


def test_the_exit_statuses_are_ctys_own() -> None:
    assert (vhostlean._OK, vhostlean._NO_MATCH, vhostlean._OUTPUT) == (
        ExitStatus.OK, ExitStatus.NO_MATCH, ExitStatus.OUTPUT,
    )  # fmt: skip
    assert (vhostlean._INTERRUPTED, vhostlean._BROKEN_PIPE) == (
        ExitStatus.INTERRUPTED, ExitStatus.BROKEN_PIPE,
    )  # fmt: skip


def test_no_output_key_the_fast_path_declines_is_a_field_name() -> None:
    # The fast path takes a word of -o that names a field as that field: the format keys
    # it leaves to the full path must never be one.
    keys = {"TITLEIDX", "TITLEIDXASC", "DNS", "D", "INDEX", "TAB_GEN", "TAB", "SORT"}
    for key in keys | vhostout._UNSUPPORTED:
        assert field_name(key) is None, key


def test_no_match_on_a_full_device_is_quiet(db: Path, tmp_path: Path) -> None:
    # Nothing to write: no write either (an empty one fails on /dev/full once flushed).
    import subprocess

    script = "import sys\nfrom ctys.cli.vhost import main\nsys.exit(main())\n"
    with Path("/dev/full").open("w") as full:
        done = subprocess.run(
            [sys.executable, "-c", script, "--inventory", str(db), "-t", "L:nothing"],
            stdout=full, stderr=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
    assert (done.returncode, done.stderr) == (ExitStatus.NO_MATCH, "")
