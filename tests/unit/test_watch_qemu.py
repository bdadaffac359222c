"""WATCH's QEMU event source: state changes named as QMP events, its suboptions."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from ctys.address.match import VmFacts
from ctys.plugins.qemu.actions.watch import event_name
from ctys.plugins.qemu.vm.runstate import RunState
from ctys.plugins.qemu.vm.runtime import EntryState, VmRuntimeDir


@pytest.mark.parametrize(
    ("old", "new", "event"),
    [
        (None, "running", "START"),
        (None, "foreign", "FOREIGN_START"),
        ("running", None, "GONE"),
        ("foreign", None, "FOREIGN_GONE"),
        ("running", "paused", "STOP"),
        ("paused", "running", "RESUME"),
        ("running", "shutdown", "SHUTDOWN"),
        ("running", "guest-panicked", "GUEST_PANICKED"),
        ("running", "internal-error", "INTERNAL_ERROR"),
        ("starting", "running", "RUNNING"),
        ("running", "colo", "STATE:colo"),
    ],
)
def test_state_changes_are_named_as_qmp_events(
    old: str | None, new: str | None, event: str
) -> None:
    assert event_name(old, new) == event


def test_watch_suboptions_parse_json_all_and_an_address() -> None:
    from ctys.address.model import AddressKind, MachineAddress
    from ctys.argscan import parse_action
    from ctys.plugins.qemu.actions.watch import WatchRequest, parse_watch

    assert parse_watch(parse_action("WATCH")) == WatchRequest()
    assert parse_watch(parse_action("WATCH=ALL,JSON")) == WatchRequest(as_json=True)
    req = parse_watch(parse_action("WATCH=l:vm1,json"))
    assert req.selector.terms == (MachineAddress(AddressKind.LABEL, "vm1"),)
    assert req.as_json
    assert parse_watch(parse_action("WATCH=web1")).names == ("web1",)


@pytest.mark.parametrize("text", ["WATCH=FOO:x", "WATCH=JSON:x", "WATCH=l:a%b"])
def test_watch_refuses_a_bad_suboption_naming_it(text: str) -> None:
    from ctys.argscan import parse_action
    from ctys.errors import UsageError
    from ctys.plugins.qemu.actions.watch import parse_watch

    with pytest.raises(UsageError, match=text.partition("=")[2].split("%")[0]):
        parse_watch(parse_action(text))


_VM = VmFacts(
    label="web1",
    conf="/srv/vms/web1/web1.conf",
    uuid="0A0B0C0D-1111-2222-3333-444455556666",
    mac="52:54:00:12:34:56",
    ip="10.0.0.5/24",
    vmid="web1-0a156b91",
)


@pytest.mark.parametrize(
    ("address", "watched"),
    [
        ("l:web1", True),
        ("LABEL:web2", False),
        ("UUID:0a0b0c0d-1111-2222-3333-444455556666", True),
        ("M:52-54-00-12-34-56", True),
        ("MAC:52:54:00:12:34:57", False),
        ("IP:10.0.0.5", True),
        ("T:10.0.0.6", False),
        ("/srv/vms/web1/web1.conf", True),
        ("ID:/srv/vms/web1/web1.conf", True),
        ("P:/srv/vms/db/db.conf", False),
        ("F:web1/web1", True),
        ("VMID:web1-0a156b91", True),
        ("BASEPATH:/srv/vms", True),
        ("BASEPATH:/other", False),
        ("l:web1,IP:10.0.0.9", False),  # every term must match
        ("web1", True),  # a bare word: label or runtime ID
        ("web1-0a156b91", True),
        ("web", False),
        ("ALL", True),
    ],
)
def test_the_address_filter_takes_every_address_form(address: str, watched: bool) -> None:
    from ctys.argscan import parse_action
    from ctys.plugins.qemu.actions.watch import parse_watch

    assert parse_watch(parse_action(f"WATCH={address}")).wants(_VM) is watched


def test_watch_is_in_the_completion_table_and_help() -> None:
    from ctys.plugins.qemu import make_plugin

    plugin = make_plugin()
    assert "JSON" in plugin.suboptions("WATCH")
    assert "WATCH" in plugin.actions()
    assert "-a WATCH[=<address>|ALL][,JSON]" in plugin.help(None)


# --- the poll: which VMs, which monitor is asked ---------------------------------------------


class _Monitors:
    """VM command monitors that all answer ``paused`` (``qmpprobe.query_states``),
    counting whose were asked."""

    asked: ClassVar[list[str]] = []

    @staticmethod
    def query_states(sockets: Sequence[Path], timeout: float) -> list[str | None]:
        _Monitors.asked += [VmRuntimeDir(sock.parent).vmid for sock in sockets]
        return [RunState.PAUSED.value for _ in sockets]


def _poll_host(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, with_events: bool
) -> list[VmRuntimeDir]:
    """Two running VMs of ours (web1, db) and one foreign qemu of ours (``hand``), as the
    runtime scan and the process table would show them."""
    from ctys.plugins.qemu.vm import processes, qmpprobe, runtime
    from ctys.plugins.qemu.vm.cmdline import parse_qemu_cmdline

    dirs = []
    entries = []
    for label, uuid in (("web1", _VM.uuid), ("db", "11111111-2222-3333-4444-555555555555")):
        rundir = VmRuntimeDir(tmp_path / label)
        rundir.path.mkdir()
        if with_events:
            rundir.events.touch()
        record = runtime.RuntimeRecord(
            vmid=f"{label}-1", label=label, conf=f"/srv/vms/{label}/{label}.conf", uuid=uuid
        )
        proc = processes.QemuProcess(4000 + len(dirs), "me", 0.0, parse_qemu_cmdline(["q"]))
        entries.append(runtime.VmEntry(rundir, EntryState.RUNNING, record, proc))
        dirs.append(rundir)
    hand = processes.QemuProcess(
        os.getpid(), "me", 0.0, parse_qemu_cmdline(["qemu-system-x86_64", "-name", "hand"])
    )
    monkeypatch.setattr(runtime, "scan_runtime", lambda *_a: iter(entries))
    monkeypatch.setattr(processes, "scan_qemu_processes", lambda: [hand])
    monkeypatch.setattr(qmpprobe, "query_states", _Monitors.query_states)
    _Monitors.asked = []
    return dirs


def test_the_poll_watches_only_the_vms_the_address_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ctys.argscan import parse_action
    from ctys.plugins.qemu.actions.watch import parse_watch, poll_snapshot

    _poll_host(monkeypatch, tmp_path, with_events=False)
    every = poll_snapshot(parse_watch(parse_action("WATCH")), frozenset())
    assert every == {
        "web1": ("web1", "paused", None, 4000),
        "db": ("db", "paused", None, 4001),
        f"pid:{os.getpid()}": ("hand", "foreign", None, os.getpid()),
    }
    by_uuid = parse_watch(parse_action(f"WATCH=UUID:{_VM.uuid.upper()}"))
    assert list(poll_snapshot(by_uuid, frozenset())) == ["web1"]
    by_path = parse_watch(parse_action("WATCH=/srv/vms/db/db.conf,JSON"))
    assert list(poll_snapshot(by_path, frozenset())) == ["db"]
    assert list(poll_snapshot(parse_watch(parse_action("WATCH=l:hand")), frozenset())) == [
        f"pid:{os.getpid()}"
    ]


def test_the_poll_leaves_a_held_vms_command_monitor_alone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ctys.argscan import parse_action
    from ctys.plugins.qemu.actions.watch import parse_watch, poll_snapshot

    web1, db = _poll_host(monkeypatch, tmp_path, with_events=True)
    seen = poll_snapshot(parse_watch(parse_action("WATCH=BASEPATH:/srv/vms")), frozenset({"web1"}))
    assert seen == {
        "web1": ("web1", None, web1.events, 4000),
        "db": ("db", "paused", db.events, 4001),
    }
    assert _Monitors.asked == ["db"]  # web1's events tell its state: its monitor is not asked


def test_a_starting_vms_qemu_is_not_reported_as_foreign(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ctys.argscan import parse_action
    from ctys.plugins.qemu.actions.watch import parse_watch, poll_snapshot
    from ctys.plugins.qemu.vm import processes, qmpprobe, runtime
    from ctys.plugins.qemu.vm.cmdline import parse_qemu_cmdline

    # Its qemu runs before CREATE's record names its pid.
    rundir = VmRuntimeDir(tmp_path / "new-1")
    argv = ["qemu-system-x86_64", "-name", "new", "-qmp", f"unix:{rundir.qmp},server=on"]
    qemu = processes.QemuProcess(os.getpid(), "me", 0.0, parse_qemu_cmdline(argv))
    record = runtime.RuntimeRecord(vmid="new-1", label="new", conf="/srv/vms/new.conf")
    entries = [runtime.VmEntry(rundir, EntryState.STARTING)]
    monkeypatch.setattr(runtime, "scan_runtime", lambda *_a: iter(entries))
    monkeypatch.setattr(processes, "scan_qemu_processes", lambda: [qemu])
    monkeypatch.setattr(qmpprobe, "query_states", _Monitors.query_states)
    # The folder made, its record not written yet: nothing names the VM, so no START of
    # its runtime ID (and a later GONE of its label); its qemu is not foreign either.
    assert poll_snapshot(parse_watch(parse_action("WATCH")), frozenset()) == {}
    entries = [runtime.VmEntry(rundir, EntryState.STARTING, record)]
    seen = poll_snapshot(parse_watch(parse_action("WATCH")), frozenset())
    assert seen == {"new-1": ("new", "starting", None, None)}
