"""SNAPSHOT: the request parser (names, one operation, formats), the qemu-img argv, the
snapshot lists of qemu-img/QMP, the QMP job (waited for, dismissed, its error one line),
LIST's rows, the existing/unknown name errors and the raw-disk refusal."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.argscan import parse_action
from ctys.errors import UsageError, VmStateError
from ctys.invocation import OutputFormat
from ctys.plugins.qemu.actions.snapshot import FIELDS, check_op, snapshot_rows
from ctys.plugins.qemu.snapreq import SnapOp, check_name, parse_snapshot
from ctys.plugins.qemu.vm import qmp, snapimg, snapshots
from ctys.plugins.qemu.vm.snapshots import BlockNode, Snapshot, SnapshotFailed
from ctys.tables import render


def _parse(text: str, fmt: OutputFormat = OutputFormat.TABLE):  # type: ignore[no-untyped-def]
    return parse_snapshot(parse_action(text), fmt)


# -- the request ---------------------------------------------------------------------


def test_list_is_the_default_and_a_table() -> None:
    req = _parse("SNAPSHOT=l:demo")
    assert (req.op, req.name, req.fmt, req.force) == (SnapOp.LIST, None, OutputFormat.TABLE, False)
    assert [t.value for t in req.selector.terms] == ["demo"]


@pytest.mark.parametrize("op", ["CREATE", "APPLY", "DELETE"])
def test_each_operation_takes_its_name(op: str) -> None:
    req = _parse(f"SNAPSHOT=l:demo,{op}:before-upgrade_1.2")
    assert (req.op, req.name) == (SnapOp(op), "before-upgrade_1.2")


def test_formats_and_force() -> None:
    assert _parse("SNAPSHOT=l:demo,LIST,JSON").fmt is OutputFormat.JSON
    terse = _parse("SNAPSHOT=l:demo,TERSE")
    assert (terse.fmt, terse.title) == (OutputFormat.TERSE, False)
    assert _parse("SNAPSHOT=l:demo,TERSE,TITLE").title
    assert _parse("SNAPSHOT=l:demo", OutputFormat.JSON).fmt is OutputFormat.JSON
    assert _parse("SNAPSHOT=l:demo,DELETE:S4,FORCE").force


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("SNAPSHOT=CREATE:x", "needs a machine address"),
        ("SNAPSHOT=l:a,CREATE:x,DELETE:y", "not CREATE and DELETE"),
        ("SNAPSHOT=l:a,LIST,LIST:x", "not LIST and LIST"),
        ("SNAPSHOT=l:a,CREATE", "'CREATE' needs one value"),
        ("SNAPSHOT=l:a,APPLY:", "'APPLY:' has ':' but no argument"),
        ("SNAPSHOT=l:a,CREATE:a%b", "'CREATE:a%b' needs one value"),
        ("SNAPSHOT=l:a,LIST:x", "'LIST:x' takes no value"),
        ("SNAPSHOT=l:a,FORCE:1", "'FORCE:1' takes no value"),
        ("SNAPSHOT=l:a,REVERT:x", "unknown SNAPSHOT suboption 'REVERT:x'"),
        ("SNAPSHOT=l:a,CREATE:123", "'CREATE:123': a snapshot name must not be all digits"),
        ("SNAPSHOT=l:a,CREATE:-x", "'CREATE:-x': a snapshot name is 1-64"),
        ("SNAPSHOT=l:a,CREATE:a b", "'CREATE:a b': a snapshot name is 1-64"),
        ("SNAPSHOT=l:a,JSON,TERSE", "exclude each other"),
    ],
)
def test_bad_requests_name_the_token(text: str, says: str) -> None:
    with pytest.raises(UsageError) as err:
        _parse(text)
    assert says in str(err.value)


@given(st.text(min_size=1, max_size=80))
def test_a_name_taken_is_safe_for_qemu_and_a_terminal(name: str) -> None:
    try:
        check_name(name, f"CREATE:{name}")
    except UsageError:
        return
    assert 1 <= len(name) <= 64 and name.isascii() and name.isprintable()
    assert not set(name) & set("%,: \t\n\"'\\;$`") and not name.isdigit()
    assert name[0] not in ".+@-"


def test_a_long_name_is_refused() -> None:
    check_name("a" * 64, "x")
    with pytest.raises(UsageError):
        check_name("a" * 65, "x")


# -- qemu-img ------------------------------------------------------------------------


def test_qemu_img_argv_forces_qcow2_and_escapes_commas() -> None:
    argv = snapimg.snapshot_argv(snapimg.ImgOp.APPLY, "t1", snapimg.Path("/vm/a,b.qcow2"))
    assert argv == [
        "qemu-img", "snapshot", "--image-opts", "-a", "t1",
        "driver=qcow2,file.filename=/vm/a,,b.qcow2",
    ]  # fmt: skip
    assert snapimg.snapshot_argv(snapimg.ImgOp.CREATE, "t", snapimg.Path("/d"))[3] == "-c"
    assert snapimg.snapshot_argv(snapimg.ImgOp.DELETE, "t", snapimg.Path("/d"))[3] == "-d"
    assert snapimg.info_argv(snapimg.Path("-x")) == [
        "qemu-img", "info", "--output=json", "-U", "--", "-x",
    ]  # fmt: skip


_INFO = json.loads(
    """{"format": "qcow2", "snapshots": [
      {"icount": 0, "vm-clock-nsec": 250000000, "name": "before", "date-sec": 1700000000,
       "date-nsec": 500000000, "vm-clock-sec": 3725, "id": "1", "vm-state-size": 52428800},
      {"name": "disks", "id": "2", "vm-state-size": 0, "date-sec": 1700000100,
       "date-nsec": 0, "vm-clock-sec": 0, "vm-clock-nsec": 0},
      {"id": "3"}, "junk"]}"""
)


def test_snapshots_of_qemu_img_info() -> None:
    before, disks = snapshots.parse_snapshots(_INFO["snapshots"])
    assert before == Snapshot("before", "1", 52428800, 1700000000.5, 3725.25)
    assert (disks.tag, disks.vm_state_size, disks.vm_clock) == ("disks", 0, 0.0)
    assert snapshots.parse_snapshots(None) == ()


def test_disk_info_reads_the_format_and_snapshots(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []

    def fake(argv: list[str], **_: object) -> str:
        seen.append(list(argv))
        return json.dumps(_INFO)

    monkeypatch.setattr(snapimg, "run_command", fake)
    fmt, snaps = snapimg.disk_info(snapimg.Path("/vm/d.qcow2"))
    assert fmt == "qcow2" and [s.tag for s in snaps] == ["before", "disks"]
    assert seen == [snapimg.info_argv(snapimg.Path("/vm/d.qcow2"))]


def test_a_qemu_img_failure_is_its_own_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from ctys.errors import CommandError

    def fail(argv: list[str], **_: object) -> str:
        raise CommandError(
            list(argv),
            1,
            "qemu-img: Could not apply snapshot 'x': no such\nTry 'qemu-img --help'\n",
        )

    monkeypatch.setattr(snapimg, "run_command", fail)
    with pytest.raises(SnapshotFailed) as err:
        snapimg.run_snapshot(snapimg.ImgOp.APPLY, "x", snapimg.Path("/d"))
    assert str(err.value) == "qemu-img snapshot: Could not apply snapshot 'x': no such"


def test_merge_counts_disks_and_keeps_the_vm_state() -> None:
    a = Snapshot("t", "1", 0, 1.0, 0.0)
    b = Snapshot("t", "4", 999, 2.0, 5.0)
    c = Snapshot("u", "2", 0, 3.0, 0.0)
    assert snapshots.merge_disks([(a, c), (b,)]) == (
        Snapshot("t", "4", 999, 2.0, 5.0, disks=2),
        Snapshot("u", "2", 0, 3.0, 0.0),
    )


# -- a running VM (QMP) --------------------------------------------------------------


def _block(
    drv: str = "qcow2", ro: bool = False, snaps: list[object] | None = None
) -> dict[str, Any]:
    image = {"filename": "/vm/d", "snapshots": snaps or []}
    return {
        "device": "ide0-hd0",
        "inserted": {"node-name": f"#block-{drv}", "file": f"/vm/d.{drv}", "drv": drv, "ro": ro,
                     "image": image},
    }  # fmt: skip


def test_block_nodes_and_their_snapshots() -> None:
    reply = [_block(snaps=_INFO["snapshots"]), {"device": "ide1-cd0"}, _block("raw", ro=True)]
    nodes = snapshots.block_nodes(reply)
    assert [(n.node, n.drv, n.ro) for n in nodes] == [
        ("#block-qcow2", "qcow2", False), ("#block-raw", "raw", True),
    ]  # fmt: skip
    assert [s.tag for s in nodes[0].snapshots] == ["before", "disks"]
    # A read-only raw CD does not stop a snapshot; a writable raw disk does.
    assert [n.node for n in snapshots.snapshot_disks(nodes)] == ["#block-qcow2"]
    raw = snapshots.block_nodes([_block(), _block("raw")])
    with pytest.raises(SnapshotFailed, match=r"its disk /vm/d.raw is raw: only qcow2 disks"):
        snapshots.snapshot_disks(raw)
    with pytest.raises(SnapshotFailed, match="no writable disk"):
        snapshots.snapshot_disks([])


def test_job_arguments() -> None:
    nodes = [BlockNode("n0", "/a", "qcow2", False), BlockNode("n1", "/b", "qcow2", False)]
    assert snapshots.job_arguments("save", "j", "t", nodes) == {
        "job-id": "j", "tag": "t", "devices": ["n0", "n1"], "vmstate": "n0",
    }  # fmt: skip
    assert "vmstate" not in snapshots.job_arguments("delete", "j", "t", nodes)


class FakeVm:
    """A monitor that answers query-block and runs a job that concludes after two polls."""

    def __init__(self, error: str | None = None) -> None:
        self.calls: list[tuple[str, object]] = []
        self.polls = 0
        self.error = error
        self.job_id = ""
        self.timeouts: dict[str, list[float]] = {}

    def query(self, command: str, timeout: float = 3.0) -> Any:
        self.calls.append((command, None))
        self.timeouts.setdefault(command, []).append(timeout)
        if command == "query-block":
            return [_block()]
        self.polls += 1
        status = "running" if self.polls < 2 else "concluded"
        job = {"id": self.job_id, "status": status, "type": "snapshot-save"}
        if status == "concluded" and self.error:
            job["error"] = self.error
        return [{"id": "other", "status": "running"}, job]

    def command(self, command: str, arguments: Any = None, timeout: float = 3.0) -> Any:
        self.calls.append((command, arguments))
        self.timeouts.setdefault(command, []).append(timeout)
        if command.startswith("snapshot-"):
            self.job_id = arguments["job-id"]
        return {}


def test_a_job_is_waited_for_and_dismissed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshots, "_POLL", 0)
    vm = FakeVm()
    snapshots.run_job(vm, "save", "t1", timeout=5)  # type: ignore[arg-type]
    names = [c for c, _ in vm.calls]
    assert names == ["query-block", "snapshot-save", "query-jobs", "query-jobs", "job-dismiss"]
    args = vm.calls[1][1]
    assert isinstance(args, dict) and args["tag"] == "t1" and args["vmstate"] == "#block-qcow2"
    assert vm.calls[-1][1] == {"id": vm.job_id}


def test_a_running_job_may_hold_the_monitor_until_its_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # snapshot-save writes RAM in QEMU's main loop: query-jobs is answered only when the
    # save is done, so a poll waits up to the job's deadline, not a monitor's 3 s (a
    # guest whose save took 4 s failed as "QMP socket did not answer within 3s").
    monkeypatch.setattr(snapshots, "_POLL", 0)
    vm = FakeVm()
    snapshots.run_job(vm, "save", "t1", timeout=300)  # type: ignore[arg-type]
    assert vm.timeouts["snapshot-save"][0] > 290
    assert len(vm.timeouts["query-jobs"]) == 2
    assert all(t > 290 for t in vm.timeouts["query-jobs"])
    # Past the deadline, a poll still gets a monitor's usual time to answer.
    assert snapshots._answer(time.monotonic() - 5) == qmp.DEFAULT_TIMEOUT


def test_a_job_error_is_one_line_and_still_dismissed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshots, "_POLL", 0)
    vm = FakeVm(error="Snapshot 'x' does not exist\n in one or more devices")
    with pytest.raises(SnapshotFailed) as err:
        snapshots.run_job(vm, "load", "x", timeout=5)  # type: ignore[arg-type]
    assert str(err.value) == "snapshot-load x: Snapshot 'x' does not exist in one or more devices"
    assert vm.calls[-1][0] == "job-dismiss"


def test_a_job_that_vanishes_or_outlasts_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshots, "_POLL", 0)
    assert snapshots.job_outcome([{"id": "a", "status": "concluded"}], "b") is None
    assert snapshots.job_outcome([{"id": "b", "status": "concluded", "error": "e"}], "b") == (
        "concluded", "e",
    )  # fmt: skip
    vm = FakeVm()
    vm.polls = -(10**9)  # never concludes
    with pytest.raises(SnapshotFailed, match="took longer than 0s"):
        snapshots.run_job(vm, "save", "t", timeout=0)  # type: ignore[arg-type]


# -- the action's checks and LIST ----------------------------------------------------

_SNAPS = (
    Snapshot("clean", "1", 3 * 1024 * 1024 + 1, 1700000000.0, 3725.25),
    Snapshot("d", "2", 0, 0.0, 0.0),
)


def test_existing_and_unknown_names_are_one_error_each() -> None:
    check_op(SnapOp.CREATE, "new", _SNAPS, "vm")
    check_op(SnapOp.APPLY, "clean", _SNAPS, "vm")
    with pytest.raises(VmStateError, match=r"^VM vm has a snapshot 'clean' already"):
        check_op(SnapOp.CREATE, "clean", _SNAPS, "vm")
    with pytest.raises(VmStateError, match=r"has no snapshot 'x' \(it has: clean, d\)"):
        check_op(SnapOp.APPLY, "x", _SNAPS, "vm")
    with pytest.raises(VmStateError, match=r"it has: none"):
        check_op(SnapOp.DELETE, "x", (), "vm")


def test_list_rows_in_each_format() -> None:
    import io

    table_rows = snapshot_rows(_SNAPS, OutputFormat.TABLE)
    assert table_rows[0]["VMSTATE"] == "3.0 MiB" and table_rows[0]["VMCLOCK"] == "01:02:05.250"
    assert table_rows[1]["VMSTATE"] == "-" and table_rows[1]["VMCLOCK"] == "00:00:00.000"
    out = io.StringIO()
    render(table_rows, FIELDS, OutputFormat.TERSE, out, title=True)
    lines = out.getvalue().splitlines()
    assert lines[0] == "TAG;ID;VMSTATE;DATE;VMCLOCK;DISKS"
    assert lines[1].startswith("clean;1;3.0 MiB;") and lines[1].endswith(";01:02:05.250;1")
    out = io.StringIO()
    render(snapshot_rows(_SNAPS, OutputFormat.JSON), FIELDS, OutputFormat.JSON, out)
    first = json.loads(out.getvalue())[0]
    assert first == {"TAG": "clean", "ID": "1", "VMSTATE": 3145729, "DATE": 1700000000.0,
                     "VMCLOCK": 3725.25, "DISKS": 1}  # fmt: skip
