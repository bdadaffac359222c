"""LIST: managed VMs from the runtime dir, stale folders removed, unmanaged ones matched to
confs. Processes are fakes; nothing here starts qemu."""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import ctys.plugins.qemu.actions.list as list_action
from ctys.errors import UsageError
from ctys.invocation import ActionCall, Invocation, OutputFormat, Suboption
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.list import (
    DEFAULT_TABLE_FIELDS,
    VmEntry,
    list_fields,
    list_vms,
    match_conf,
)
from ctys.plugins.qemu.actions.listout import parse_list_request, run_list
from ctys.plugins.qemu.vm import qmpprobe
from ctys.plugins.qemu.vm.cmdline import parse_qemu_cmdline
from ctys.plugins.qemu.vm.handle import VmHandle
from ctys.plugins.qemu.vm.processes import QemuProcess
from ctys.plugins.qemu.vm.qmp import QmpUnavailable
from ctys.plugins.qemu.vm.runtime import RuntimeDir, RuntimeRecord, VmRuntimeDir
from ctys.plugins.qemu.vmconfig import VmConfig

NO_SUCH_PID = 99_999_999  # above any pid_max: never a living process


@pytest.fixture
def runtime(short_tmp: Path) -> RuntimeDir:
    # Short: the console socket path must fit a UNIX socket, whatever pytest's temp root.
    return RuntimeDir(short_tmp / "runtime")


@pytest.fixture
def statuses(monkeypatch: pytest.MonkeyPatch) -> dict[str, str | Exception]:
    """QMP answers by socket path; a path not in the dict does not answer."""
    answers: dict[str, str | Exception] = {}

    def fake_states(sockets: Sequence[Path], timeout: float) -> list[str | None]:
        found = [answers.get(str(path), QmpUnavailable(f"{path}: refused")) for path in sockets]
        return [None if isinstance(a, Exception) else a for a in found]

    monkeypatch.setattr(qmpprobe, "query_states", fake_states)
    return answers


def managed_dir(
    runtime: RuntimeDir,
    vmid: str,
    pid: int | None,
    *,
    label: str = "",
    conf_file: str = "",
    **record: object,
) -> VmRuntimeDir:
    vmdir = runtime.create_vm_dir(vmid)
    rec = RuntimeRecord(vmid=vmid, label=label or vmid, conf=conf_file, pid=pid, **record)  # type: ignore[arg-type]
    vmdir.write_record(rec)
    vmdir.qmp.touch()
    return vmdir


def our_qemu(pid: int, vmdir: VmRuntimeDir, *extra: str, user: str = "me") -> QemuProcess:
    argv = [
        "qemu-system-x86_64", "-name", vmdir.vmid, "-accel", "tcg",
        "-qmp", f"unix:{vmdir.qmp},server=on,wait=off", "-pidfile", str(vmdir.pidfile),
        *extra,
    ]  # fmt: skip
    return QemuProcess(pid, user, 1.0, parse_qemu_cmdline(argv))


def foreign_qemu(pid: int, *args: str, user: str = "alice") -> QemuProcess:
    return QemuProcess(pid, user, 1.0, parse_qemu_cmdline(["qemu-system-x86_64", *args]))


def conf(path: str, label: str | None = None, **kw: object) -> VmConfig:
    p = Path(path)
    return VmConfig(conf_path=p, label=label or p.stem, **kw)  # type: ignore[arg-type]


# --- managed VMs ----------------------------------------------------------------------


def test_managed_vms_get_the_confs_their_records_name_and_no_folder_is_scanned(
    runtime: RuntimeDir, statuses: dict[str, str | Exception], tmp_path: Path
) -> None:
    """LIST of VMs ctys started reads the confs their records name, each once (and the
    warning of one that runs a program of its choice); the VM folders are scanned only for
    a qemu ctys did not start."""
    from ctys.plugins.qemu.confs.reader import LazyConfs

    folder = tmp_path / "vms"
    folder.mkdir()
    (folder / "other.conf").write_text("#@#MAGICID-QEMU\n#@#LABEL = other\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    procs = []
    for n in range(2):
        conf_file = outside / f"vm{n}.conf"
        conf_file.write_text(
            f"#@#MAGICID-QEMU\n#@#LABEL = vm{n}\n#@#MAC = 52:54:00:00:00:0{n}\n"
            f"#@#IP = 10.0.0.{n + 1}\nQEMUBIN=/opt/q{n}\n"
        )
        vmdir = managed_dir(runtime, f"vm{n}-x", 5100 + n, label=f"vm{n}", conf_file=str(conf_file))
        procs.append(our_qemu(5100 + n, vmdir))
    confs = LazyConfs([folder])

    entries = list_vms(runtime, confs, procs)

    assert [(e.label, e.mac, e.ip) for e in entries] == [
        ("vm0", "52:54:00:00:00:00", "10.0.0.1"),
        ("vm1", "52:54:00:00:00:01", "10.0.0.2"),
    ]
    warnings = list(list_action.exec_warnings(entries, confs))
    assert len(warnings) == 2
    assert str(outside / "vm0.conf") in warnings[0] and "QEMUBIN" in warnings[0]
    assert str(outside / "vm1.conf") in warnings[1]
    assert not confs.scanned
    foreign = foreign_qemu(6000, "-name", "other")
    entries = list_vms(runtime, confs, [*procs, foreign])
    assert confs.scanned  # a qemu ctys did not start is named by the scan
    assert [e.label for e in entries] == ["other", "vm0", "vm1"]


def test_managed_vm_is_listed_with_qmp_state(
    runtime: RuntimeDir, statuses: dict[str, str | Exception]
) -> None:
    vmdir = managed_dir(
        runtime,
        "vm1-abc",
        4242,
        label="vm1",
        conf_file="/vms/vm1/vm1.conf",
        uuid="u-1",
        accelerator="TCG",
        binary="/usr/bin/qemu-system-x86_64",
        vnc_display=3,
    )
    vmdir.console.touch()
    statuses[str(vmdir.qmp)] = "paused"
    proc = our_qemu(4242, vmdir, "-drive", "file=/vms/vm1/vm1.qcow2,media=disk")
    confs = [conf("/vms/vm1/vm1.conf", label="vm1", ip="10.0.2.15")]

    [entry] = list_vms(runtime, confs, [proc])

    assert entry == VmEntry(
        label="vm1",
        pid=4242,
        managed=True,
        state="paused",
        uuid="u-1",
        user="me",
        accelerator="tcg",
        vnc="127.0.0.1:5903",
        console=vmdir.console,
        qmp=vmdir.qmp,
        conf=Path("/vms/vm1/vm1.conf"),
        binary="/usr/bin/qemu-system-x86_64",
        image=Path("/vms/vm1/vm1.qcow2"),
        ip="10.0.2.15",
        vmid="vm1-abc",
        address="10.0.2.15",
    )
    assert vmdir.path.exists()


def test_internal_error_state_is_reported(
    runtime: RuntimeDir, statuses: dict[str, str | Exception]
) -> None:
    vmdir = managed_dir(runtime, "kvm1-abc", 5000)
    statuses[str(vmdir.qmp)] = "internal-error"
    [entry] = list_vms(runtime, [], [our_qemu(5000, vmdir, "-accel", "kvm")])
    assert entry.state == "internal-error"
    assert entry.managed


def test_silent_monitor_gives_unknown(
    runtime: RuntimeDir, statuses: dict[str, str | Exception]
) -> None:
    vmdir = managed_dir(runtime, "mute-abc", 5001)  # no answer registered: QmpUnavailable
    [entry] = list_vms(runtime, [], [our_qemu(5001, vmdir)])
    assert entry.state == "unknown"
    vmdir.qmp.unlink()  # no socket at all: not even tried
    [entry] = list_vms(runtime, [], [our_qemu(5001, vmdir)])
    assert entry.state == "unknown"


@pytest.fixture
def mute_monitor(tmp_path: Path) -> Iterator[Path]:
    """A UNIX socket that accepts connections and never says a word (a hung qemu)."""
    path = tmp_path / "mute.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield path
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_hung_monitors_cost_one_timeout_not_a_hang(runtime: RuntimeDir, mute_monitor: Path) -> None:
    procs = []
    for i in range(3):
        vmdir = managed_dir(runtime, f"hung{i}-abc", 6000 + i)
        vmdir.qmp.unlink()
        vmdir.qmp.symlink_to(mute_monitor)
        procs.append(our_qemu(6000 + i, vmdir))
    started = time.monotonic()
    entries = list_vms(runtime, [], procs, status_timeout=0.5)
    elapsed = time.monotonic() - started
    assert [e.state for e in entries] == ["unknown"] * 3
    assert elapsed < 1.4  # queried in parallel, each bounded by the timeout


# --- stale folders ------------------------------------------------------------------


def test_dead_vm_folder_is_removed_and_not_shown(
    runtime: RuntimeDir, statuses: dict[str, str | Exception]
) -> None:
    dead = managed_dir(runtime, "dead-abc", NO_SUCH_PID)
    assert list_vms(runtime, [], []) == []
    assert not dead.path.exists()


def test_record_without_pid_uses_pidfile(
    runtime: RuntimeDir, statuses: dict[str, str | Exception]
) -> None:
    vmdir = managed_dir(runtime, "pf-abc", None)
    vmdir.pidfile.write_text("7070\n")
    [entry] = list_vms(runtime, [], [our_qemu(7070, vmdir)])
    assert entry.pid == 7070 and entry.managed


def test_pid_reused_by_a_non_qemu_is_stale(
    runtime: RuntimeDir, statuses: dict[str, str | Exception]
) -> None:
    # Our own pid: alive, but python, not qemu.
    vmdir = managed_dir(runtime, "reused-abc", os.getpid())
    assert list_vms(runtime, [], []) == []
    assert not vmdir.path.exists()


def test_pid_reused_by_another_qemu_is_stale_and_that_qemu_is_unmanaged(
    runtime: RuntimeDir, statuses: dict[str, str | Exception]
) -> None:
    vmdir = managed_dir(runtime, "vm1-abc", 8080)
    other = runtime.vm("vm10-abc")  # a folder whose path starts with vm1-abc's
    intruder = foreign_qemu(8080, "-name", "intruder", "-qmp", f"unix:{other.qmp},server=on")
    [entry] = list_vms(runtime, [], [intruder])
    assert not vmdir.path.exists()
    assert entry.label == "intruder"
    assert not entry.managed
    assert entry.state == "running"


def test_start_in_progress_is_neither_shown_nor_removed(
    runtime: RuntimeDir, statuses: dict[str, str | Exception]
) -> None:
    # Folder with a monitor socket but no record yet, its start lock held by a CREATE.
    starting = runtime.create_vm_dir("starting-abc")
    starting.qmp.touch()
    # Folder with a dead record, but its start lock is held by a CREATE.
    locked = managed_dir(runtime, "locked-abc", NO_SUCH_PID)
    # Empty leftover folder: stale.
    empty = runtime.create_vm_dir("empty-abc")
    # A socket and no record, no qemu and no CREATE: stale too (every start holds its lock
    # from the folder's creation until qemu's monitor answers).
    leftover = runtime.create_vm_dir("leftover-abc")
    leftover.qmp.touch()
    with runtime.start_lock("locked-abc"), runtime.start_lock("starting-abc"):
        assert list_vms(runtime, [], []) == []
    assert starting.path.exists()
    assert locked.path.exists()
    assert not empty.path.exists()
    assert not leftover.path.exists()
    # Lock released: now the dead record is removed.
    list_vms(runtime, [], [])
    assert not locked.path.exists()


# --- unmanaged VMs and conf matching ---------------------------------------------------


def test_unmanaged_process_is_listed_from_its_cmdline(
    runtime: RuntimeDir, statuses: dict[str, str | Exception]
) -> None:
    proc = foreign_qemu(
        9000,
        "-name", "ext1", "-uuid", "u-9", "-enable-kvm", "-vnc", ":2",
        "-serial", "unix:/tmp/ext1.sock,server,nowait",
        "-qmp", "unix:/tmp/ext1.qmp,server,nowait",
        "/vms/ext1/ext1.img",
    )  # fmt: skip
    confs = [conf("/vms/ext1/ext1.conf", label="EXT-ONE", ip="192.168.1.5")]
    [entry] = list_vms(runtime, confs, [proc])
    assert entry == VmEntry(
        label="ext1",
        pid=9000,
        managed=False,
        state="running",
        uuid="u-9",
        user="alice",
        accelerator="kvm",
        vnc="0.0.0.0:5902",
        console=Path("/tmp/ext1.sock"),
        qmp=Path("/tmp/ext1.qmp"),
        conf=Path("/vms/ext1/ext1.conf"),
        binary="qemu-system-x86_64",
        image=Path("/vms/ext1/ext1.img"),
        ip="192.168.1.5",
        vmid="9000",
        address="192.168.1.5",
    )


def test_vnc_column_names_the_socket_or_the_display_qemu_really_took(
    runtime: RuntimeDir, statuses: dict[str, str | Exception], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {"/tmp/r1.qmp": {"enabled": True, "family": "ipv4", "host": "::", "service": "5917"}}

    def fake_qmp(vm: VmHandle, command: str, timeout: float = 3.0) -> object:
        if str(vm.qmp) not in answers:
            raise QmpUnavailable("refused")
        return answers[str(vm.qmp)]

    monkeypatch.setattr(VmHandle, "query", fake_qmp)
    sock = runtime.vm("mine-1").vnc_socket
    mine = managed_dir(runtime, "mine-1", 10, label="mine", vnc_socket=str(sock))
    procs = [
        our_qemu(10, mine, "-vnc", f"unix:{sock}"),
        foreign_qemu(11, "-name", "r1", "-vnc", ":0,to=99", "-qmp", "unix:/tmp/r1.qmp,server"),
        foreign_qemu(12, "-name", "r2", "-vnc", ":0,to=99", "-qmp", "unix:/tmp/r2.qmp,server"),
    ]
    shown = {e.label: e.vnc for e in list_vms(runtime, [], procs)}
    assert shown == {"mine": f"unix:{sock}", "r1": "[::]:5917", "r2": "0.0.0.0:5900-5999"}


def test_unmatched_unmanaged_label_from_image(
    runtime: RuntimeDir, statuses: dict[str, str | Exception]
) -> None:
    [entry] = list_vms(runtime, [conf("/c/other.conf")], [foreign_qemu(1, "-hda", "/x/disk.qcow2")])
    assert entry.label == "disk"
    assert entry.conf is None and entry.ip is None


def test_match_uuid_wins_over_names() -> None:
    by_uuid = conf("/elsewhere/other.conf", uuid="AB-CD")
    by_dir = conf("/vms/vm1/vm1.conf")
    proc = foreign_qemu(1, "-name", "vm1", "-uuid", "ab-cd", "/vms/vm1/vm1.img")
    assert match_conf(proc, [by_dir, by_uuid]) is by_uuid


def test_match_directory_name_first() -> None:
    by_dir = conf("/confs/alpha.conf")
    by_image = conf("/confs/beta.conf")
    by_label = conf("/confs/gamma.conf")
    proc = foreign_qemu(1, "-name", "gamma", "/vms/alpha/beta.qcow2")
    assert match_conf(proc, [by_label, by_image, by_dir]) is by_dir


def test_match_image_prefix_second() -> None:
    by_image = conf("/confs/beta.conf")
    by_label = conf("/confs/gamma.conf")
    proc = foreign_qemu(1, "-name", "gamma", "/vms/alpha/beta.2024.qcow2")
    assert match_conf(proc, [by_label, by_image]) is by_image
    # a conf whose own name has dots matches the image stem
    dotted = conf("/vms/debian-12.0.conf")
    assert match_conf(foreign_qemu(1, "/img/debian-12.0.qcow2"), [dotted]) is dotted


def test_match_label_third() -> None:
    by_label = conf("/confs/gamma.conf")
    proc = foreign_qemu(1, "-name", "gamma", "/vms/alpha/beta.qcow2")
    assert match_conf(proc, [conf("/confs/delta.conf"), by_label]) is by_label


def test_match_uses_drive_when_last_argument_is_not_an_image() -> None:
    # libvirt-like: the boot image is not last; the first disk stands in for it.
    target = conf("/var/lib/libvirt/images/deb12/deb12.conf")
    proc = foreign_qemu(
        1, "-drive", "file=/var/lib/libvirt/images/deb12/root.qcow2,if=none", "-msg", "timestamp=on"
    )
    assert match_conf(proc, [target]) is target


def test_match_prefers_conf_beside_the_image_and_skips_ignored() -> None:
    far = conf("/a/vm5.conf")
    near = conf("/b/vm5.conf")
    proc = foreign_qemu(1, "/b/vm5.img")
    assert match_conf(proc, [far, near]) is near
    ignored = conf("/b/vm5.conf", ignored=True)
    assert match_conf(proc, [ignored]) is None
    assert match_conf(foreign_qemu(1, "-name", "nothing"), [far]) is None


def test_entries_sorted_and_managed_not_duplicated(
    runtime: RuntimeDir, statuses: dict[str, str | Exception]
) -> None:
    vmdir = managed_dir(runtime, "mid-abc", 300, label="mid")
    statuses[str(vmdir.qmp)] = "running"
    procs = [
        foreign_qemu(200, "-name", "Zed"),
        our_qemu(300, vmdir),
        foreign_qemu(100, "-name", "alpha"),
    ]
    entries = list_vms(runtime, [], procs)
    assert [(e.label, e.managed) for e in entries] == [
        ("alpha", False),
        ("mid", True),
        ("Zed", False),
    ]


# --- CLI glue ---------------------------------------------------------------------------


def call(*keys: str) -> ActionCall:
    subs = []
    for raw in keys:
        key, _, arg = raw.partition(":")
        subs.append(Suboption(key.upper(), (arg,) if arg else (), raw))
    return ActionCall("LIST", tuple(subs))


def test_list_fields_order() -> None:
    assert list_fields()[:5] == ("LABEL", "STATE", "PID", "USER", "MANAGED")
    assert set(DEFAULT_TABLE_FIELDS) <= set(list_fields())
    assert len(set(list_fields())) == 16  # MAC joined in issue 14
    assert list_fields()[-1] == "VMID"  # the runtime ID; the original's ID is CONF


def test_parse_list_request_formats() -> None:
    table = parse_list_request(call(), (), OutputFormat.TABLE)
    assert (table.fmt, table.fields, table.title) == (
        OutputFormat.TABLE,
        DEFAULT_TABLE_FIELDS,
        True,
    )
    terse = parse_list_request(call("terse"), (), OutputFormat.TABLE)
    assert (terse.fmt, terse.fields, terse.title) == (OutputFormat.TERSE, list_fields(), False)
    titled = parse_list_request(call("TERSE", "TITLE"), (), OutputFormat.TABLE)
    assert titled.title
    # MACHINE: the original's 22-field record, no header line (as ENUMERATE's MACHINE).
    machine = parse_list_request(call("MACHINE"), (), OutputFormat.TABLE)
    assert (machine.fmt, machine.title, len(machine.fields)) == (OutputFormat.TERSE, False, 22)
    assert parse_list_request(call("JSON"), (), OutputFormat.TABLE).fmt is OutputFormat.JSON
    assert parse_list_request(call(), (), OutputFormat.JSON).fmt is OutputFormat.JSON


def test_parse_list_request_fields() -> None:
    req = parse_list_request(call(), ("label", "PID", "ACCELERATOR", "label"), OutputFormat.TABLE)
    assert req.fields == ("LABEL", "PID", "ACCEL")
    every = parse_list_request(call(), ("ALL",), OutputFormat.TABLE).fields
    assert every[: len(list_fields())] == list_fields()
    assert {"PM", "TYPE", "ID", "CPORT", "HYPERRELRUN", "ARCH"} <= set(every)


@pytest.mark.parametrize(
    ("subs", "fields", "fmt", "message"),
    [
        (("BOGUS",), (), OutputFormat.TABLE, "'BOGUS'"),
        (("TERSE:x",), (), OutputFormat.TABLE, "takes no value"),
        (("TERSE", "JSON"), (), OutputFormat.TABLE, "exclude each other"),
        (("TERSE",), (), OutputFormat.JSON, "conflicts"),
        ((), ("LABEL", "COLOUR"), OutputFormat.TABLE, "unknown LIST field 'COLOUR'"),
    ],
)
def test_parse_list_request_errors(
    subs: tuple[str, ...], fields: tuple[str, ...], fmt: OutputFormat, message: str
) -> None:
    with pytest.raises(UsageError, match=message) as info:
        parse_list_request(call(*subs), fields, fmt)
    if fields:
        assert "LABEL, STATE, PID" in str(info.value)  # the valid names are listed


@pytest.fixture
def two_vms(
    runtime: RuntimeDir, statuses: dict[str, str | Exception], monkeypatch: pytest.MonkeyPatch
) -> RuntimeDir:
    vmdir = managed_dir(runtime, "ours-abc", 11, label="ours", conf_file="/v/ours/ours.conf")
    statuses[str(vmdir.qmp)] = "internal-error"
    procs = [our_qemu(11, vmdir), foreign_qemu(12, "-name", "theirs", "/v/theirs/theirs.img")]
    monkeypatch.setattr(list_action, "scan_qemu_processes", lambda: procs)
    return runtime


def run(runtime: RuntimeDir, acall: ActionCall, **inv: object) -> str:
    out = io.StringIO()
    ctx = RunContext(Invocation(**inv), out, io.StringIO())  # type: ignore[arg-type]
    assert run_list(acall, ctx, runtime, []) == 0
    return out.getvalue()


def test_run_list_machine_with_o_prints_those_fields_without_header(two_vms: RuntimeDir) -> None:
    lines = run(two_vms, call("MACHINE"), output_fields=("LABEL", "STATE", "MANAGED")).splitlines()
    assert lines == ["ours;internal-error;yes", "theirs;running;no"]


def test_run_list_terse_all_fields_without_header(two_vms: RuntimeDir) -> None:
    lines = run(two_vms, call("TERSE")).splitlines()
    assert len(lines) == 2
    assert all(line.count(";") == len(list_fields()) - 1 for line in lines)
    assert lines[0].startswith("ours;internal-error;11;me;yes;tcg;")


def test_run_list_json(two_vms: RuntimeDir) -> None:
    data = json.loads(run(two_vms, call("JSON"), output_fields=("LABEL", "PID", "CONF")))
    assert data == [
        {"LABEL": "ours", "PID": 11, "CONF": "/v/ours/ours.conf"},
        {"LABEL": "theirs", "PID": 12, "CONF": None},
    ]


def test_run_list_table_by_default(two_vms: RuntimeDir) -> None:
    lines = run(two_vms, call()).splitlines()
    assert lines[0].split() == list(DEFAULT_TABLE_FIELDS)
    assert lines[1].split()[:5] == ["ours", "internal-error", "11", "me", "yes"]


def test_run_list_unknown_suboption(two_vms: RuntimeDir) -> None:
    with pytest.raises(UsageError, match="NOPE"):
        run(two_vms, call("NOPE"))


def test_guest_agents_of_several_vms_are_asked_at_the_same_time(
    runtime: RuntimeDir,
    statuses: dict[str, str | Exception],
    short_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each agent answers only once all three are being asked: asked one after the other
    # (each waiting up to its timeout), the barrier would break and no address be shown.
    import threading

    from ctys.plugins.qemu.net import guestip

    together = threading.Barrier(3, timeout=10)

    def agent(sock: Path, macs: object, *, timeout: float = 1.0) -> str | None:
        try:
            together.wait()
        except threading.BrokenBarrierError:
            return None
        return "10.0.2.15"

    monkeypatch.setattr(guestip, "agent_ip", agent)
    procs = []
    for i in range(3):
        conf_file = short_tmp / f"ga{i}.conf"
        conf_file.write_text(f"#@#MAGICID-QEMU\n#@#LABEL = ga{i}\n#@#GUESTAGENT = yes\n")
        vmdir = managed_dir(runtime, f"ga{i}-abc", 7100 + i, conf_file=str(conf_file))
        (vmdir.path / "qga.sock").touch()
        statuses[str(vmdir.qmp)] = "running"
        procs.append(our_qemu(7100 + i, vmdir))
    entries = list_vms(runtime, [], procs)
    assert [e.ip for e in entries] == ["10.0.2.15 (user-mode)"] * 3
