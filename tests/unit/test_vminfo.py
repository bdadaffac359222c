"""INFO=<address>: qemu-img's JSON, the request, the sections as printed, the log tails."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.argscan import parse_action
from ctys.errors import CtysError, UsageError
from ctys.invocation import OutputFormat
from ctys.plugins.qemu.actions.diskinfo import DiskInfo, ImageLayer, human_size, parse_disk_info
from ctys.plugins.qemu.actions.infovm import (
    disk_rows,
    is_vm_info,
    parse_vm_info,
    write_details,
    write_logs,
)
from ctys.plugins.qemu.actions.vmdetails import VmDetails, process_usage
from ctys.plugins.qemu.actions.vmlogs import (
    DEFAULT_LINES,
    LogTail,
    read_tail,
    tail_lines,
    vm_logs,
)
from ctys.safestream import safe_stream

# What qemu-img 7.2 prints for `info --output=json --backing-chain` of an overlay.
CHAIN = """[
{
    "virtual-size": 16777216,
    "filename": "/vms/a/a.qcow2",
    "cluster-size": 65536,
    "format": "qcow2",
    "actual-size": 200704,
    "backing-filename": "/vms/a/base.qcow2",
    "full-backing-filename": "/vms/a/base.qcow2",
    "backing-filename-format": "qcow2",
    "dirty-flag": false
},
{
    "virtual-size": 16777216,
    "filename": "/vms/a/base.qcow2",
    "format": "qcow2",
    "actual-size": 4096,
    "dirty-flag": false
}
]"""


def test_a_backing_chain_is_parsed_image_first() -> None:
    chain = parse_disk_info(CHAIN)
    assert chain == (
        ImageLayer("/vms/a/a.qcow2", "qcow2", 16777216, 200704),
        ImageLayer("/vms/a/base.qcow2", "qcow2", 16777216, 4096),
    )
    disk = DiskInfo(Path("/vms/a/a.qcow2"), chain)
    assert disk.as_dict()["backing_chain"] == ["/vms/a/base.qcow2"]
    assert disk.as_dict()["virtual_size"] == 16777216


def test_one_image_without_backing_chain_and_odd_values() -> None:
    text = '{"filename": "d.img", "format": "raw", "virtual-size": true, "actual-size": "x"}'
    assert parse_disk_info(text) == (ImageLayer("d.img", "raw", None, None),)


@pytest.mark.parametrize("text", ["", "not json", "[]", '[{"format": "raw"}]', "[1]"])
def test_output_that_is_no_qemu_img_info_is_one_error(text: str) -> None:
    with pytest.raises(CtysError, match="qemu-img info"):
        parse_disk_info(text)


@pytest.mark.parametrize(
    ("size", "shown"),
    [(None, ""), (0, "0"), (1023, "1023"), (1024, "1K"), (1536, "1.5K"), (16 << 20, "16M"),
     (3 << 40, "3T"), (5 << 50, "5120T")],
)  # fmt: skip
def test_human_size(size: int | None, shown: str) -> None:
    assert human_size(size) == shown


def test_disk_rows_show_sizes_and_chain() -> None:
    disk = DiskInfo(Path("/vms/a/a.qcow2"), parse_disk_info(CHAIN))
    missing = DiskInfo(Path("/vms/gone.img"), error="missing")
    rows = disk_rows(_details(disks=[disk, missing]))
    assert rows[0] == {
        "DISK": "/vms/a/a.qcow2",
        "FORMAT": "qcow2",
        "VIRTUAL": "16M",
        "ON DISK": "196K",
        "BACKING": "/vms/a/base.qcow2",
        "ERROR": None,
    }
    assert rows[1]["ERROR"] == "missing" and rows[1]["FORMAT"] is None


# --- the request ---------------------------------------------------------------------


def test_info_without_an_address_stays_the_host_report() -> None:
    for text in ("INFO", "INFO=LOAD", "INFO=MACHINE", "INFO=REFRESH"):
        assert not is_vm_info(parse_action(text))
    assert is_vm_info(parse_action("INFO=l:web1"))


def test_info_request_forms() -> None:
    table = OutputFormat.TABLE
    req = parse_vm_info(parse_action("INFO=l:web1"), table)
    assert [t.value for t in req.selector.terms] == ["web1"]
    assert (req.json, req.log_lines) == (False, None)
    assert parse_vm_info(parse_action("INFO=l:web1,JSON"), table).json
    assert parse_vm_info(parse_action("INFO=l:web1"), OutputFormat.JSON).json
    assert parse_vm_info(parse_action("INFO=l:web1,LOG"), table).log_lines == DEFAULT_LINES
    assert parse_vm_info(parse_action("INFO=UUID:x,LOG:7"), table).log_lines == 7


@pytest.mark.parametrize("text", ["LOG:0", "LOG:x", "LOG:-1", "LOG:100001", "LOG:1%2", "LOAD", "X"])
def test_bad_info_suboptions_name_the_token(text: str) -> None:
    with pytest.raises(UsageError, match=text.split(":")[0]):
        parse_vm_info(parse_action(f"INFO=l:web1,{text}"), OutputFormat.TABLE)


# --- the log tails --------------------------------------------------------------------


def test_tail_lines_escape_what_a_guest_printed() -> None:
    data = b"boot\r\n\x1b[2Jclear\r\nok\ttab\r\n\xff bad utf8\r\n"
    assert tail_lines(data, 3) == ("\\x1b[2Jclear", "ok\ttab", "\ufffd bad utf8")
    assert tail_lines(data, 0) == ()
    assert tail_lines(data, 99)[0] == "boot"


@given(st.binary(max_size=200), st.integers(min_value=1, max_value=20))
def test_tail_lines_never_hold_control_characters(data: bytes, count: int) -> None:
    for line in tail_lines(data, count):
        assert all(ch == "\t" or ch.isprintable() for ch in line), line
    assert len(tail_lines(data, count)) <= count


def test_read_tail_reads_only_the_end_of_a_huge_log(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_bytes(b"".join(b"line %d\n" % i for i in range(10000)))
    assert read_tail(log, 2, limit=100) == ("line 9998", "line 9999")
    # a limit smaller than the lines asked for: what fits, the first partial line dropped
    few = read_tail(log, 50, limit=40)
    assert few and all(line.startswith("line ") for line in few) and len(few) < 50
    assert read_tail(tmp_path / "none", 5) == ()
    link = tmp_path / "link"
    link.symlink_to(log)
    assert read_tail(link, 5) == ()  # a log is never read through a symlink


def test_logs_of_a_running_vm_then_of_its_last_run(tmp_path: Path) -> None:
    live = tmp_path / "run" / "web1-1234"
    kept = tmp_path / "logs" / "web1-1234"
    kept.mkdir(parents=True)
    (kept / "qemu.log").write_text("old qemu\n")
    (kept / "console.log").write_text("old console\n")
    tails = vm_logs("web1-1234", live, 5, root=tmp_path / "logs")
    assert [(t.name, t.lines, t.live) for t in tails] == [
        ("qemu.log", ("old qemu",), False),
        ("console.log", ("old console",), False),
    ]
    live.mkdir(parents=True)
    (live / "console.log").write_text("new console\n")
    tails = vm_logs("web1-1234", live, 5, root=tmp_path / "logs")
    assert [(t.name, t.lines, t.live) for t in tails] == [
        ("qemu.log", ("old qemu",), False),  # the running VM has none yet
        ("console.log", ("new console",), True),
    ]
    assert [t.path for t in vm_logs("other", None, 5, root=tmp_path / "logs")] == [None, None]


# --- the sections ---------------------------------------------------------------------


def _details(**changes: object) -> VmDetails:
    fields: dict[str, object] = {
        "label": "web1",
        "vmid": "web1-1234",
        "state": "running",
        "conf": {"path": "/vms/web1/web1.conf", "uuid": "u-1", "machine": None},
        "disks": [],
        "nics": [{"nic": 0, "mac": "52:54:00:00:00:01", "ip": "10.0.0.5", "ifname": None}],
        "consoles": {"mode": "CLI", "socket": "/run/c.sock"},
        "runtime": {"pid": 42, "accelerator": "tcg", "rss_bytes": 64 << 20, "uptime_s": 9},
        "inventory": [{"host": "h1", "label": "web1", "id": "/vms/web1/web1.conf"}],
        "logs": [LogTail("qemu.log", None), LogTail("console.log", Path("/l/c.log"), ("hi",))],
    }
    fields.update(changes)
    return VmDetails(**fields)  # type: ignore[arg-type]


def _printed(details: VmDetails) -> str:
    buffer = io.StringIO()
    write_details(details, safe_stream(buffer))
    return buffer.getvalue()


def test_the_sections_as_printed() -> None:
    text = _printed(_details())
    for title in (
        "VM:",
        "Conf:",
        "Disks:",
        "NICs:",
        "Consoles:",
        "Runtime:",
        "Inventory:",
        "Logs:",
    ):
        assert f"\n{title}\n" in f"\n{text}", title
    assert "  pid          42" in text and "  rss_bytes    64M" in text
    assert "machine" not in text  # unknown values are left out
    assert "52:54:00:00:00:01" in text and "10.0.0.5" in text
    assert "Disks:\n  (none)\n" in text
    assert "qemu.log: none kept\nconsole.log (last run): /l/c.log\n  hi\n" in text


def test_a_stopped_vm_has_no_runtime_section() -> None:
    assert "Runtime:" not in _printed(_details(runtime=None, state="shut off"))


def test_values_from_a_conf_are_shown_escaped() -> None:
    text = _printed(_details(label="evil\x1b]0;x\x07", conf={"path": "/v/\x1b[31m.conf"}))
    assert "\x1b" not in text and "\\x1b]0;x\\x07" in text and "/v/\\x1b[31m.conf" in text


def test_the_json_form_is_whole() -> None:
    data = json.loads(json.dumps(_details().as_dict()))
    assert set(data) == {
        "label", "vmid", "state", "conf", "disks", "nics", "consoles", "runtime",
        "inventory", "logs",
    }  # fmt: skip
    assert data["logs"][1] == {
        "name": "console.log", "path": "/l/c.log", "live": False, "lines": ["hi"]
    }  # fmt: skip
    assert data["runtime"]["pid"] == 42 and data["conf"]["machine"] is None


def test_write_logs_marks_the_live_log() -> None:
    buffer = io.StringIO()
    write_logs([LogTail("qemu.log", Path("/r/qemu.log"), ("a",), live=True)], buffer)
    assert buffer.getvalue() == "qemu.log: /r/qemu.log\n  a\n"


def test_usage_of_a_process_that_is_gone() -> None:
    assert process_usage(2**22 + 12345) == {
        "uptime_s": None,
        "cpu_percent": None,
        "rss_bytes": None,
    }
    mine = process_usage(os.getpid())
    assert isinstance(mine["rss_bytes"], int) and mine["rss_bytes"] > 0


def test_a_qemu_ctys_did_not_start_has_what_its_command_line_says() -> None:
    from ctys.plugins.qemu.actions.vmdetails import foreign_runtime
    from ctys.plugins.qemu.vm.cmdline import parse_qemu_cmdline
    from ctys.plugins.qemu.vm.processes import QemuProcess

    argv = ["qemu-system-x86_64", "-accel", "tcg", "-qmp", "unix:/t/q.sock,server=on,wait=off"]
    proc = QemuProcess(os.getpid(), "me", 0.0, parse_qemu_cmdline(argv))
    facts = foreign_runtime(proc)
    assert (facts["pid"], facts["accelerator"], facts["qmp"]) == (os.getpid(), "tcg", "/t/q.sock")
    assert isinstance(facts["rss_bytes"], int)


@pytest.mark.parametrize("text", ["INFO=LOG", "INFO=LOG:5", "INFO=JSON"])
def test_log_and_json_without_a_vm_say_what_is_missing(text: str) -> None:
    from ctys.argscan import scan_argv
    from ctys.plugins.base import RunContext
    from ctys.plugins.qemu.actions.info import run_info

    ctx = RunContext(scan_argv(["-t", "QEMU", "-a", text]), io.StringIO(), io.StringIO())
    with pytest.raises(UsageError, match="needs a VM: INFO=l:LABEL,"):
        run_info(parse_action(text), ctx)
