"""LIST in the original's forms (issue 13, point 3): its suboptions parsed into a
``ListRequest``, a running VM as the 22-field record, and the printed forms; the merged
rows of several targets; the helper actions' answer lines (point 6). No qemu runs here."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ctys.argscan import parse_action
from ctys.errors import UsageError
from ctys.formats.listfields import LIST_RECORD
from ctys.formats.request import Layout
from ctys.formats.tabtcp import Guest
from ctys.invocation import ActionCall, Invocation, OutputFormat, Target
from ctys.plugins.base import RunContext, TargetRows
from ctys.plugins.qemu.actions.getclientport import answer_line, client_ports
from ctys.plugins.qemu.actions.infomachine import magic_of, prerequisites
from ctys.plugins.qemu.actions.isactive import answer_line as isactive_line
from ctys.plugins.qemu.actions.list import VmEntry
from ctys.plugins.qemu.actions.listout import (
    Site,
    list_rows,
    parse_list_request,
    target_suboptions,
    write_list_rows,
)
from ctys.plugins.qemu.actions.listrecord import binary_arch, original_fields, vnc_ports
from ctys.plugins.qemu.actions.remote_rows import ListMerge
from ctys.plugins.qemu.actions.sessionmatch import helper_argument, matches

OURS = VmEntry(
    label="web",
    pid=4242,
    managed=True,
    state="running",
    uuid="UU-1",
    user="alice",
    accelerator="tcg",
    vnc="127.0.0.1:5903",
    qmp=Path("/run/ctys/vms/web-1/qmp.sock"),
    conf=Path("/vms/web/web.conf"),
    binary="/usr/bin/qemu-system-x86_64",
    image=Path("/vms/web/web.qcow2"),
    ip="10.0.0.7",
    vmid="web-1",
    mac="52:54:00:00:00:07",
    address="10.0.0.7",
)
THEIRS = VmEntry(
    label="db",
    pid=77,
    managed=False,
    state="running",
    user="bob",
    accelerator="kvm",
    vnc="unix:/tmp/db.vnc",
    binary="qemu-system-aarch64",
)


def req(text: str, fields: tuple[str, ...] = (), fmt: OutputFormat = OutputFormat.TABLE):  # type: ignore[no-untyped-def]
    return parse_list_request(parse_action(text), fields, fmt)


def test_field_suboptions_choose_the_originals_fields_in_record_order() -> None:
    r = req("LIST=PID,ID,LABEL")
    assert (r.fields, r.original, r.fmt) == (("LABEL", "ID", "PID"), True, OutputFormat.TABLE)
    assert req("LIST=P,USER,GROUP,HRX,ACCEL").fields == (
        "ID",
        "UID",
        "GID",
        "HYPERRELRUN",
        "ACCELERATOR",
    )
    assert req("LIST=MACHINE").fields == LIST_RECORD
    assert req("LIST=MACHINE").title is False  # no header, as ENUMERATE's MACHINE
    assert req("LIST=LABEL,NONE,PID").fields == ("PID",)
    maxkey = req("LIST=MAXKEY")
    assert maxkey.fmt is OutputFormat.TERSE  # MAXKEY forces TERSE
    assert maxkey.fields == ("PM", "TYPE", "LABEL", "ID", "UUID", "MAC")
    assert "UUID" not in req("LIST=ALL").fields


def test_o_wins_over_field_suboptions_and_keeps_ctys_names() -> None:
    r = req("LIST=LABEL,TERSE", ("label", "STATE", "uid"))
    assert (r.fields, r.original) == (("LABEL", "STATE", "UID"), False)


def test_the_default_view_stays_ctys_table() -> None:
    r = req("LIST")
    assert (r.original, r.fmt, r.output.layout) == (False, OutputFormat.TABLE, Layout.PLAIN)
    assert r.fields[:3] == ("LABEL", "STATE", "PID")


def test_tab_tcp_columns_follow_the_field_suboptions() -> None:
    plain = req("LIST=TAB_TCP")
    assert plain.tab_tcp is not None and plain.tab_tcp.guest is Guest.NONE
    assert not plain.tab_tcp.show_id
    both = req("LIST=TAB_TCP:20,TCP,ID")
    assert both.tab_tcp is not None and both.tab_tcp.guest is Guest.TCP
    assert both.tab_tcp.show_id and both.tab_tcp.widths[0] == 20
    assert req("LIST=TAB_TCP,MAC").tab_tcp.guest is Guest.MAC  # type: ignore[union-attr]


def test_sites_and_pkg() -> None:
    assert req("LIST").site is Site.BOTH and req("LIST").lists_servers()
    assert req("LIST=SERVER").lists_servers()
    assert not req("LIST=CLIENT").lists_servers()  # QEMU's clients are other programs
    assert req("LIST=PKG:qemu%VNC").lists_servers()
    assert not req("LIST=PKG:VNC").lists_servers()
    with pytest.raises(UsageError, match="SERVER and CLIENT exclude each other"):
        req("LIST=SERVER,CLIENT")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("LIST=COLOUR", "unknown LIST suboption 'COLOUR'"),
        ("LIST=LABEL:x", "unknown LIST suboption 'LABEL:x'"),
        ("LIST=XML_GEN", "not supported: the original's SPEC/REC/XML"),
        ("LIST=PROLOGUE", "internal"),
        ("LIST=PKG", "PKG needs"),
        ("LIST=TAB_TCP,JSON", "not JSON"),
    ],
)
def test_bad_list_suboptions_are_one_usage_error(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        req(text)


def test_a_running_vm_as_the_22_field_record() -> None:
    record = original_fields(OURS, "h1", wanted=())
    assert list(record) == list(LIST_RECORD)
    assert record["PM"] == "h1" and record["TYPE"] == "QEMU"
    assert (record["ID"], record["TCP"], record["MAC"]) == (
        "/vms/web/web.conf",
        "10.0.0.7",
        "52:54:00:00:00:07",
    )
    assert (record["DISPLAY"], record["CPORT"]) == (3, 5903)
    assert record["SPORT"] == "/run/ctys/vms/web-1/qmp.sock"
    assert (record["UID"], record["CSTYPE"], record["JOBID"]) == ("alice", "SERVER", "web-1")
    assert (record["ACCELERATOR"], record["ARCH"]) == ("TCG", "x86_64")
    assert record["GID"] is None and record["HYPERRELRUN"] is None  # only when asked for
    theirs = original_fields(THEIRS, "h1", wanted=())
    assert (theirs["ID"], theirs["JOBID"], theirs["CPORT"], theirs["ARCH"]) == (
        None,
        None,
        None,
        "aarch64",
    )


@pytest.mark.parametrize(
    ("vnc", "ports"),
    [
        ("127.0.0.1:5901", (1, 5901)),
        ("[::1]:5999", (99, 5999)),
        ("0.0.0.0:6100", (200, 6100)),
        ("unix:/x/vnc.sock", (None, None)),
        ("127.0.0.1:5900-5999", (None, None)),
        (None, (None, None)),
    ],
)
def test_vnc_ports(vnc: str | None, ports: tuple[int | None, int | None]) -> None:
    assert vnc_ports(vnc) == ports


def test_binary_arch() -> None:
    assert binary_arch("/usr/bin/qemu-system-x86_64-microvm") == "x86_64"
    assert binary_arch("") is None


def _printed(text: str, entries: list[VmEntry], fields: tuple[str, ...] = ()) -> list[str]:
    request = req(text, fields)
    out = io.StringIO()
    write_list_rows(list_rows(entries, request.fields, "h1"), request, out)
    return out.getvalue().splitlines()


def test_machine_prints_one_22_field_line_per_vm() -> None:
    lines = _printed("LIST=MACHINE", [OURS, THEIRS])
    assert all(line.count(";") == 21 for line in lines)
    assert lines[0].startswith(
        "h1;QEMU;web;/vms/web/web.conf;UU-1;52:54:00:00:00:07;10.0.0.7;3;5903;"
    )


def test_terse_selection_with_titles_and_sort() -> None:
    lines = _printed("LIST=PID,LABEL,TERSE,TITLE,SORT:2", [OURS, THEIRS])
    assert lines == ["Label;PID", "web;4242", "db;77"]  # text order, as sort(1) without -n
    assert _printed("LIST=PID,LABEL,TERSE,SORT", [OURS, THEIRS]) == ["db;77", "web;4242"]
    assert _printed("LIST=LABEL,TERSE,TITLEIDXASC", [OURS])[0] == "Label(C-3)"


def test_tab_tcp_and_tab_gen_of_running_vms() -> None:
    tcp = _printed("LIST=TAB_TCP,TCP", [OURS])
    assert tcp[2].split("|")[:2] == ["h1".ljust(18), "10.0.0.7".ljust(17)]
    gen = _printed("LIST=TAB_GEN:3_label_6%11_pid_6%4_id_8_L", [OURS])
    assert gen == ["label |pid   |id      ", "------+------+--------", "web   |4242  |web.conf"]


def test_target_suboptions_keep_only_what_a_target_needs() -> None:
    call = parse_action("LIST=LABEL,SERVER,TERSE,SORT:1,TAB_GEN:3,PKG:QEMU")
    assert [s.raw for s in target_suboptions(call)] == ["SERVER", "PKG:QEMU"]
    options: dict[str, str] = {"X": "", "o": "label"}
    ListMerge().target_options(call, Target("h2"), options, clear_done=False)
    assert (options["a"], options["o"], "X" in options) == (
        "LIST=JSON,SERVER,PKG:QEMU",
        "ALL",
        False,
    )


def test_merged_rows_in_the_original_forms_carry_the_targets_pm() -> None:
    rows = [
        {**OURS.row(), **original_fields(OURS, "itself", ()), "HOST": "x"},
    ]
    out = io.StringIO()
    inv = Invocation(action=parse_action("LIST=PM,LABEL,TERSE"))
    ctx = RunContext(inv, out, io.StringIO())
    call = parse_action("LIST=PM,LABEL,TERSE")
    answers = [
        TargetRows(Target("hostB"), "hostB", call, rows),
        TargetRows(Target("localhost"), "localhost", call, [{**rows[0], "LABEL": "loc"}]),
    ]
    assert ListMerge().merge(call, answers, ctx) == 0
    # A remote VM's PM is the host as the user named it; a local one keeps its own.
    assert out.getvalue().splitlines() == ["hostB;web", "itself;loc"]
    plain = io.StringIO()
    ListMerge().merge(
        ActionCall("LIST"),
        answers,
        RunContext(Invocation(output_format=OutputFormat.JSON), plain, io.StringIO()),
    )
    assert [r["HOST"] for r in json.loads(plain.getvalue())] == ["hostB", "localhost"]


# --- helper actions ------------------------------------------------------------------------


def test_helper_arguments_as_the_original_reads_them() -> None:
    assert helper_argument(parse_action("ISACTIVE=/vms/web/web.conf"), "u") == (
        "/vms/web/web.conf",
        ("/vms/web/web.conf",),
    )
    assert helper_argument(parse_action("ISACTIVE=ID:/vms/web/web.conf"), "u")[1] == (
        "/vms/web/web.conf",
    )
    assert helper_argument(parse_action("GETCLIENTPORT=web,/vms/x.conf"), "u") == (
        "web,/vms/x.conf",
        ("web", "/vms/x.conf"),
    )
    assert helper_argument(parse_action("GETCLIENTPORT=l:Web"), "u")[1] == ("Web",)
    with pytest.raises(UsageError, match="ISACTIVE needs its argument: u"):
        helper_argument(ActionCall("ISACTIVE"), "u")


@pytest.mark.parametrize(
    ("word", "hit"),
    [
        ("web", True),
        ("/vms/web/web.conf", True),
        ("uu-1", True),
        ("web-1", True),
        ("4242", True),
        ("/vms/web/web.qcow2", True),
        ("we", False),
        ("/vms/web", False),
    ],
)
def test_a_word_names_a_vm_exactly(word: str, hit: bool) -> None:
    assert matches(OURS, [word]) is hit


def test_getclientport_and_isactive_answer_lines() -> None:
    assert client_ports([OURS, THEIRS], ["web"]) == [5903]
    assert client_ports([OURS, THEIRS], ["db"]) == []  # a private VNC socket has no port
    assert answer_line("h1", "web", [5903]) == "CLIENTPORT(QEMU,h1,web)=5903"
    assert answer_line("h1", "db", []) == "CLIENTPORT(QEMU,h1,db)=NO-CPORT"
    assert answer_line("h1", "a,b", [5901, 5902]) == "CLIENTPORT(QEMU,h1,a,b)=5901 5902"
    assert isactive_line("/vms/web/web.conf", True) == "ISACTIVE(QEMU,/vms/web/web.conf)=0"
    assert isactive_line("x", False) == "ISACTIVE(QEMU,x)=1"


@pytest.mark.parametrize(
    ("version", "magic"),
    [
        ("0.9.0", "QEMU_090"),
        ("0.9.1", "QEMU_091"),
        ("0.9.5", "QEMU_09x"),
        ("0.10.6", "QEMU_010"),
        ("0.12.2", "QEMU_012"),
        ("0.120.0", "QEMU_GENERIC"),
        ("8.2.2", "QEMU_GENERIC"),
        (None, "NOLOC"),
    ],
)
def test_info_machine_magic_as_the_original(version: str | None, magic: str) -> None:
    assert magic_of(version) == magic


def test_info_machine_prerequisites_without_qemu() -> None:
    assert prerequisites((), kvm_usable=False, vde=True) == "<KVM:unusable>"
