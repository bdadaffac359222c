"""The CLI on several targets, with a fake ``ssh`` that runs the remote ctys here as
another host (its own VM folder, runtime dir and inventory): ENUMERATE into the local
inventory (multipath), LIST merged with a HOST column, prefixed output, dead hosts,
CREATE placement."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

from ctys.cli.main import main
from ctys.errors import CtysError
from ctys.inventory.record import InventoryRecord
from ctys.inventory.store import Inventory
from ctys.invocation import ActionCall, Suboption
from ctys.plugins.qemu.actions.info import HostLoad, parse_load
from ctys.remote.placement import Candidate, candidates, choose, create_call_for

FAKE_SSH = """\
#!{python}
import os, sys
args = sys.argv[1:]
host, command = args[args.index("--") + 1:]
if host == "dead":
    sys.stderr.write("ssh: connect to host dead port 22: Connection refused\\n")
    sys.exit(255)
root = os.path.join(os.environ["FAKE_ROOT"], host)
with open(os.path.join(root, "commands"), "a") as f:
    f.write(command + "\\n")
if host == "old" and "rowsentry" in command:  # an older ctys: no rows entry
    sys.stderr.write("sh: 1: rowsentry: not found\\n")
    sys.exit(127)
canned = os.path.join(root, "load" if "INFO=LOAD" in command else "answer")
if os.path.exists(canned):
    sys.stdout.write(open(canned).read())
    sys.exit(0)
os.environ.update(
    CTYS_HOSTNAME=host,
    CTYS_VMPATH=os.path.join(root, "vms"),
    CTYS_RUNTIME_DIR=os.path.join(root, "rt"),
    CTYS_INVENTORY=os.path.join(root, "inventory.sqlite"),
)
os.execvp("sh", ["sh", "-c", command])
"""

CONF = """\
#@#MAGICID-QEMU
#@#LABEL = {label}
#@#UUID = {uuid}
KERNEL=vmlinuz
"""
UUID_SHARED = "11111111-2222-3333-4444-555555555555"


def write_vm(folder: Path, label: str, uuid: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / f"{label}.conf"
    conf.write_text(CONF.format(label=label, uuid=uuid))
    return conf


@pytest.fixture
def hosts(ctys_env: dict[str, str], short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fake hosts h1, h2 under FAKE_ROOT; ``dead`` refuses connections."""
    root = short_tmp / "hosts"
    bindir = short_tmp / "bin"
    bindir.mkdir()
    script = bindir / "ssh"
    script.write_text(FAKE_SSH.format(python=sys.executable))
    script.chmod(0o755)
    for name in ("h1", "h2"):
        (root / name / "vms").mkdir(parents=True)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ROOT", str(root))
    monkeypatch.setenv("CTYS_REMOTE_CTYS", f"{sys.executable} -m ctys")
    monkeypatch.setenv("CTYS_HOSTNAME", "here")
    return root


def inventory_rows() -> list[InventoryRecord]:
    with Inventory.open(Path(os.environ["CTYS_INVENTORY"])) as inv:
        return sorted(inv.all(), key=lambda r: (r.label, r.host))


def test_enumerate_merges_targets_into_the_local_inventory(
    hosts: Path, short_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = short_tmp / "shared"
    write_vm(shared / "vm1", "vm1", UUID_SHARED)
    write_vm(hosts / "h1" / "vms" / "own", "own1", "99999999-2222-3333-4444-555555555555")
    argv = [
        "-t", "QEMU", "-a", "ENUMERATE", "-o", "terse,label,host",
        "h1", f"h2(-a ENUMERATE=BASEPATH:{shared})", "dead",
        f"localhost(-a ENUMERATE=BASEPATH:{shared})",
    ]  # fmt: skip
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 255
    assert captured.err.splitlines() == [
        "ctys: dead: ssh failed: ssh: connect to host dead port 22: Connection refused"
    ]
    assert sorted(captured.out.splitlines()) == ["own1;h1", "vm1;h2", "vm1;here"]
    # Multipath: the VM on the shared folder is one row per host that can run it.
    assert [(r.label, r.host) for r in inventory_rows()] == [
        ("own1", "h1"),
        ("vm1", "h2"),
        ("vm1", "here"),
    ]
    # The remote kept no inventory of its own; the target got the JSON form.
    assert not (hosts / "h1" / "inventory.sqlite").exists()
    (command,) = (hosts / "h1" / "commands").read_text().splitlines()
    assert command.endswith("-t QEMU -a ENUMERATE=JSON -C off -o ALL")


def test_enumerate_again_replaces_that_hosts_rows(
    hosts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = write_vm(hosts / "h1" / "vms" / "a", "a1", "aaaaaaaa-2222-3333-4444-555555555555")
    assert main(["-a", "ENUMERATE", "h1"]) == 0
    conf.unlink()
    write_vm(hosts / "h1" / "vms" / "b", "b1", "bbbbbbbb-2222-3333-4444-555555555555")
    assert main(["-a", "ENUMERATE", "h1"]) == 0
    capsys.readouterr()
    assert [(r.label, r.host) for r in inventory_rows()] == [("b1", "h1")]


def test_list_merges_rows_with_a_host_column(
    hosts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = [{"LABEL": "web", "STATE": "running", "PID": 42, "MANAGED": True}]
    (hosts / "h2" / "answer").write_text(json.dumps(answer))
    assert main(["-a", "LIST", "-o", "terse,label,pid,managed", "h1", "h2"]) == 0
    # h1 runs a real LIST: whatever qemu runs on this machine (other tests) is its rows.
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if not line.startswith("h1;")] == ["h2;web;42;yes"]
    assert main(["-a", "LIST=TITLE", "-o", "json,label", "h2", "dead"]) == 255
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [{"HOST": "h2", "LABEL": "web"}]
    assert "ctys: dead: ssh failed" in captured.err


def test_list_rows_come_from_the_lean_entry_and_an_older_ctys_is_asked_itself(
    hosts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (hosts / "old" / "vms").mkdir(parents=True)
    (hosts / "old" / "answer").write_text(json.dumps([{"LABEL": "web", "PID": 7}]))
    assert main(["-a", "LIST", "-o", "terse,label,pid", "h2", "old"]) == 0
    captured = capsys.readouterr()
    # h2 runs a real LIST: whatever qemu runs on this machine (other tests) is its rows.
    assert [line for line in captured.out.splitlines() if not line.startswith("h2;")] == [
        "old;web;7"
    ]
    assert captured.err == ""
    [lean] = (hosts / "h2" / "commands").read_text().splitlines()
    assert lean.endswith(" -m ctys.plugins.qemu.actions.rowsentry -a LIST=JSON -o ALL")
    first, again = (hosts / "old" / "commands").read_text().splitlines()
    assert first == lean and again.endswith(" -m ctys -a LIST=JSON -o ALL")
    # A suboption the entry does not answer (ALLVMS needs the inventory there) and -d
    # go to ctys at once: one command each.
    assert main(["-a", "LIST=ALLVMS", "-o", "terse,label", "old"]) == 0
    assert main(["-d", "1", "-a", "LIST", "-o", "terse,label", "old"]) == 0
    assert "rows entry" not in capsys.readouterr().err
    commands = (hosts / "old" / "commands").read_text().splitlines()
    assert commands[2].endswith(" -m ctys -a LIST=JSON,ALLVMS -o ALL")
    assert commands[3].endswith(" -m ctys -a LIST=JSON -d 1 -o ALL")
    assert len(commands) == 4


def test_a_target_without_ctys_is_one_error_line(
    hosts: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTYS_REMOTE_CTYS", "/nonexistent/bin/ctys")
    (hosts / "old" / "vms").mkdir(parents=True)
    assert main(["-a", "LIST", "old"]) == 127
    err = capsys.readouterr().err.splitlines()
    # Both asked: the rows entry beside it, then ctys; the line is about ctys.
    assert err == [
        "ctys: old: ctys not found on the host (sh: 1: /nonexistent/bin/ctys: not found)"
    ]
    commands = [shlex.split(c)[0] for c in (hosts / "old" / "commands").read_text().splitlines()]
    assert commands == ["/nonexistent/bin/ctys-rows", "/nonexistent/bin/ctys"]


def test_list_with_a_broken_answer(hosts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (hosts / "h2" / "answer").write_text("Welcome to h2!\n[]")
    assert main(["-a", "LIST", "-o", "terse", "h1", "h2"]) == 1
    assert capsys.readouterr().err.startswith("ctys: h2: not a JSON answer")


def test_other_actions_print_each_hosts_lines_under_its_name(
    hosts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["-a", "CANCEL=l:nothing", "h1", "dead"])
    captured = capsys.readouterr()
    assert status == 255
    err = captured.err.splitlines()
    assert "ctys: dead: ssh failed: ssh: connect to host dead port 22: Connection refused" in err
    assert any(line.startswith("ctys: h1: ") and "nothing" in line for line in err)
    assert main(["-a", "INFO=LOAD", "h1", "localhost"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[0] for line in lines] == ["h1", "localhost"]
    assert all(isinstance(parse_load(line.split(": ")[1]), HostLoad) for line in lines)


def test_merged_actions_refuse_a_target_running_another_action(
    hosts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-a", "LIST", "h1", "h2(-a INFO)"]) == 2
    assert "runs another action than LIST" in capsys.readouterr().err


# --- CREATE placement -------------------------------------------------------------------


def test_choose_least_loaded() -> None:
    loads = {
        "busy": HostLoad(3.0, 2, 0),
        "idle": HostLoad(0.4, 4, 3),
        "idle2": HostLoad(0.4, 4, 1),
    }
    assert choose(loads) == "idle2"
    tie = {"b": HostLoad(0.0, 2, 0), "a": HostLoad(0.0, 2, 0)}
    assert choose(tie) == "a"
    assert choose(tie, local="b") == "b"
    with pytest.raises(CtysError):
        choose({})


def test_candidates_from_multipath_rows(tmp_path: Path) -> None:
    path = tmp_path / "inv.sqlite"
    rows = [
        InventoryRecord(host="h1", label="vm1", uuid=UUID_SHARED, pname="/s/vm1.conf"),
        InventoryRecord(host="here", label="vm1", uuid=UUID_SHARED, pname="/s/vm1.conf"),
        InventoryRecord(host="h2", label="other", uuid="x", pname="/o.conf"),
    ]
    with Inventory.open(path) as inv:
        inv.add(rows)
    call = ActionCall("CREATE", (Suboption("L", ("vm1",), "l:vm1"),))
    assert candidates(call, path, "here") == [
        Candidate("h1", "/s/vm1.conf", False, UUID_SHARED, "vm1"),
        Candidate("here", "/s/vm1.conf", True, UUID_SHARED, "vm1"),
    ]
    # Repeated keys are ANDed, never dropped: two labels name no VM.
    both = ActionCall("CREATE", (*call.suboptions, Suboption("L", ("other",), "l:other")))
    assert candidates(both, path, "here") == []
    base = ActionCall("CREATE", (*call.suboptions, Suboption("BASEPATH", ("/s",), "BASEPATH:/s")))
    assert candidates(base, path, "here") == []
    assert candidates(ActionCall("CREATE", ()), path, "here") == []


def test_create_call_for_uses_that_hosts_conf_path() -> None:
    call = ActionCall(
        "CREATE",
        (Suboption("L", ("vm1",), "l:vm1"), Suboption("CONSOLE", ("VNC",), "CONSOLE:VNC")),
    )
    new = create_call_for(call, "/v/a,b%c.conf")
    assert [s.raw for s in new.suboptions] == ["P:/v/a\\,b\\%c.conf", "CONSOLE:VNC"]
    assert new.suboptions[0].args == ("/v/a,b%c.conf",)


def test_create_without_target_runs_on_the_least_loaded_host(
    hosts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        InventoryRecord(host=h, label="vm1", uuid=UUID_SHARED, pname=f"/{h}/vm1.conf")
        for h in ("h1", "h2", "dead")
    ]
    with Inventory.open(Path(os.environ["CTYS_INVENTORY"])) as inv:
        inv.add(rows)
    (hosts / "h1" / "load").write_text("3.50;2;1\n")
    (hosts / "h2" / "load").write_text("0.10;2;0\n")
    assert main(["-a", "CREATE=l:vm1,CONSOLE:VNC", "-b", "1"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "ctys: dead: ssh failed: ssh: connect to host dead port 22: Connection refused"
    assert err[1] == (
        "ctys: l:vm1: running on h2"
        " (least loaded of dead, h1, h2: load 0.10 on 2 CPUs, 0 VMs running)"
    )
    assert err[2] == "ctys: h2: no conf file at /h2/vm1.conf"
    commands = (hosts / "h2" / "commands").read_text().splitlines()
    assert commands[0].endswith("-a LIST=JSON -o ALL")  # does it run there already?
    assert commands[1].endswith("-a INFO=LOAD")
    assert commands[2].endswith("-a CREATE=P:/h2/vm1.conf,CONSOLE:VNC -b 1")
    # The dead host was passed over once (LIST), not asked again for its load.
    assert len([line for line in err if "dead" in line and "ssh failed" in line]) == 1


def _runs_on_h1(hosts: Path) -> None:
    rows = [
        InventoryRecord(host=h, label="vm1", uuid=UUID_SHARED, pname=f"/{h}/vm1.conf")
        for h in ("h1", "h2")
    ]
    with Inventory.open(Path(os.environ["CTYS_INVENTORY"])) as inv:
        inv.add(rows)
    running = [{"LABEL": "vm1", "PID": 4321, "MANAGED": True, "UUID": UUID_SHARED.upper()}]
    (hosts / "h1" / "answer").write_text(json.dumps(running))
    (hosts / "h2" / "answer").write_text("[]")
    (hosts / "h1" / "load").write_text("3.50;2;1\n")
    (hosts / "h2" / "load").write_text("0.10;2;0\n")


def test_create_of_a_vm_running_on_another_host_is_refused(
    hosts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _runs_on_h1(hosts)
    assert main(["-a", "CREATE=l:vm1", "-b", "1"]) != 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["ctys: VM vm1 already runs on h1 (pid 4321); use CONNECT"]
    for host in ("h1", "h2"):
        commands = (hosts / host / "commands").read_text().splitlines()
        assert [c.rsplit(" -a ", 1)[1] for c in commands] == ["LIST=JSON -o ALL"]


def test_connect_to_a_vm_running_on_another_host_goes_there(
    hosts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _runs_on_h1(hosts)
    main(["-a", "CREATE=l:vm1,CONNECT", "-b", "1"])
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "ctys: l:vm1: runs on h1 (pid 4321); attaching there"
    commands = (hosts / "h1" / "commands").read_text().splitlines()
    assert commands[-1].endswith("-a CREATE=P:/h1/vm1.conf,CONNECT -b 1")
    assert "CREATE" not in (hosts / "h2" / "commands").read_text()


def test_pty_runs_each_target_on_this_terminal_with_ssh_t(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "ssh"
    fake.write_text(
        '#!/bin/sh\nprintf "%s|" "$@"; echo\ncase "$*" in *" dead "*) exit 255;; esac\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CTYS_RUNTIME_DIR", str(tmp_path / "rt"))
    monkeypatch.delenv("CTYS_REMOTE_CTYS", raising=False)
    assert main(["-a", "CREATE=l:vm1,CONSOLE:CLI", "-z", "pty", "h1", "dead"]) == 255
    captured = capfd.readouterr()
    first, second = captured.out.splitlines()
    # Not captured and prefixed: ssh wrote straight to the terminal, h1 before dead.
    assert first.endswith("|-t|--|h1|ctys -a CREATE=l:vm1,CONSOLE:CLI|")
    assert second.endswith("|-t|--|dead|ctys -a CREATE=l:vm1,CONSOLE:CLI|")
    assert captured.err == "ctys: dead: ssh failed: exit 255\n"


def _echo_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "ssh"
    fake.write_text('#!/bin/sh\nprintf "%s|" "$@"; echo\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CTYS_RUNTIME_DIR", str(tmp_path / "rt"))
    monkeypatch.delenv("CTYS_REMOTE_CTYS", raising=False)


@pytest.mark.parametrize(
    ("argv", "terminal"),
    [
        (["-a", "CREATE=l:vm1,CONNECT", "h1"], True),  # attach: needs the terminal
        (["-a", "CREATE=l:vm1,REUSE", "h1"], True),
        (["-a", "CREATE=l:vm1,RECONNECT", "h1"], True),
        (["-a", "CREATE=l:vm1,CONSOLE:CLI", "h1"], True),  # CLI console in the foreground
        (["-a", "CREATE=l:vm1", "h1"], False),  # the default console, VNC: a viewer
        (["-a", "CREATE=l:vm1,CONSOLE:CLI0", "-b", "1", "h1"], True),
        (["-a", "CREATE=l:vm1,CONSOLE:CLI", "-b", "1", "h1"], False),  # background
        (["-a", "CREATE=l:vm1,RESUME", "h1"], False),  # resumes, attaches nothing
        (["-a", "CREATE=l:vm1,CONSOLE:VNC", "h1"], False),  # a viewer, not this terminal
        (["-a", "CREATE=l:vm1,CONNECT", "-z", "nopty", "h1"], False),  # refused
        (["-a", "CANCEL=l:vm1", "h1"], False),
        (["-a", "CANCEL=l:vm1", "h1", "h2(-a CREATE=l:vm2,CONNECT)"], True),
    ],
)
def test_a_console_attach_from_a_terminal_gets_ssh_t_without_z(
    argv: list[str],
    terminal: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    _echo_ssh(tmp_path, monkeypatch)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    assert main(argv) == 0
    out = capfd.readouterr().out
    if terminal:
        # On this terminal: ssh -t, its output not captured nor prefixed.
        assert "|-t|--|h1|" in out and not out.startswith("h1: "), out
    else:
        assert "|-T|--|h1|" in out and out.startswith("h1: "), out


def test_a_console_attach_without_a_terminal_stays_captured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    _echo_ssh(tmp_path, monkeypatch)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    assert main(["-a", "CREATE=l:vm1,CONNECT", "h1"]) == 0
    assert "|-T|--|h1|" in capfd.readouterr().out
