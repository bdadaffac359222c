"""LIST and ENUMERATE in the original's forms and the helper actions (issue 13, points 3
and 6) against real TCG guests booted by ctys, locally and on an ssh target. Other qemus,
some with the same labels, may run on this host: only this test's rows are looked at
(its qemu's PID, its runtime dir)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from sshhosts import SshHost

from ctys.formats.listfields import LIST_RECORD
from ctys.plugins.qemu.demo.demovm import write_demo_conf
from ctys.plugins.qemu.images.build import GuestImage
from support.cli import Ctys
from support.procs import live_qemu_pids

pytestmark = pytest.mark.e2e

PROMPT = "guest#"


def _label() -> str:
    return f"lo{uuid.uuid4().hex[:8]}"  # unique: no other qemu on the host has it


def _boot(ctys: Ctys, label: str, *target: str) -> None:
    create = f"CREATE=l:{label},CONSOLE:VNC,VNCBIND:127.0.0.1,WAIT:{PROMPT}"
    done = ctys("-t", "QEMU", "-a", create, "-b", "1", *target, timeout=180)
    assert done.returncode == 0, done.stderr


def _one_pid(marker: Path | str) -> int:
    [pid] = live_qemu_pids(str(marker))
    return pid


def _vnc_port(pid: int) -> int:
    ports = [
        c.laddr.port
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    ]
    assert len(ports) == 1, ports
    return ports[0]


def _lines(ctys: Ctys, action: str, *args: str) -> list[str]:
    done = ctys("-t", "QEMU", "-a", action, *args, timeout=90)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout.splitlines()


def test_list_forms_and_helpers_of_a_real_guest(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str]
) -> None:
    label = _label()
    conf = make_vm(label)
    _boot(ctys, label)
    runtime = ctys_env["CTYS_RUNTIME_DIR"]
    pid = _one_pid(runtime)
    port = _vnc_port(pid)

    # MACHINE: the original's 22 fields, one line per VM, no header.
    records = [line.split(";") for line in _lines(ctys, "LIST=MACHINE")]
    assert all(len(r) == 22 for r in records), records
    [mine] = [dict(zip(LIST_RECORD, r, strict=True)) for r in records if r[10] == str(pid)]
    assert (mine["TYPE"], mine["LABEL"], mine["ID"]) == ("QEMU", label, str(conf))
    assert (mine["CPORT"], mine["DISPLAY"]) == (str(port), str(port - 5900))
    assert mine["SPORT"].startswith(runtime) and mine["CSTYPE"] == "SERVER"
    assert mine["ACCELERATOR"] == "TCG" and mine["ARCH"] == "x86_64"
    assert mine["HYPERRELRUN"].startswith("qemu-") and Path(mine["EXECPATH"]).is_file()
    assert mine["UID"] == psutil.Process(pid).username() and mine["JOBID"]

    # Field suboptions in record order, with the original's header.
    lines = _lines(ctys, "LIST=PID,ID,LABEL,TERSE,TITLEIDX")
    assert lines[0] == "Label(3);ID(4);PID(11)"
    assert f"{label};{conf};{pid}" in lines[1:]

    # TAB_TCP with the ID column; TAB_GEN of chosen fields; SORT.
    tab = _lines(ctys, "LIST=TAB_TCP,ID")
    assert tab[0].split("|")[3].strip() == "id" and set(tab[1]) <= {"-", "+"}
    [row] = [line for line in tab[2:] if str(conf)[-17:] in line]
    assert row.split("|")[4:7] == ["QEMU     ", "TCG  ", "S"]
    gen = _lines(ctys, "LIST=TAB_GEN:11_pid_8%3_label_12%9_port_6,SORT:1")
    assert gen[:2] == ["pid     |label       |port  ", "--------+------------+------"]
    assert f"{pid!s:8}|{label:12}|{port:<6}" in gen[2:]

    # GETCLIENTPORT by label and by ID; ISACTIVE by the bare ID (the conf's path).
    assert _lines(ctys, f"GETCLIENTPORT={label}")[-1].endswith(f",{label})={port}")
    [by_id] = _lines(ctys, f"GETCLIENTPORT=ID:{conf}")
    assert by_id.endswith(f",ID:{conf})={port}")
    assert _lines(ctys, f"ISACTIVE={conf}") == [f"ISACTIVE(QEMU,{conf})=0"]

    # SHOW: the VM with its CPU and memory use.
    show = [line.split(";") for line in _lines(ctys, "SHOW=TERSE")]
    assert show[0][0] == "HOST" and int(show[0][-1]) >= 1
    [vm] = [r for r in show if r[0] == "VM" and r[2] == str(pid)]
    assert vm[1] == label and vm[3] == "yes" and int(vm[8]) > 0  # RSS in MB
    assert float(vm[7]) >= 0.0

    # INFO's MACHINE form.
    [info] = _lines(ctys, "INFO=MACHINE")
    fields = info.split(";")
    assert len(fields) == 7 and fields[1] == "QEMU" and fields[5] == "ENABLED"
    assert fields[0].endswith("@" + (ctys_env.get("CTYS_HOSTNAME") or fields[0].split("@")[1]))

    done = ctys("-t", "QEMU", "-a", f"CANCEL=l:{label},TIMEOUT:20", timeout=90)
    assert done.returncode == 0, done.stderr
    assert _lines(ctys, f"ISACTIVE={conf}") == [f"ISACTIVE(QEMU,{conf})=1"]
    assert _lines(ctys, f"GETCLIENTPORT={label}")[-1].endswith("=NO-CPORT")


def _remote_vm(host: SshHost, guest: GuestImage, label: str) -> Path:
    return write_demo_conf(host.vms / label, guest, label)


def test_merged_list_forms_and_remote_helpers(rctys: Ctys, ssh_hosts, guest) -> None:  # type: ignore[no-untyped-def]
    host_a, _ = ssh_hosts(2)
    label = _label()
    conf = _remote_vm(host_a, guest, label)
    _boot(rctys, label, "hostA")
    pid = _one_pid(host_a.runtime)

    # The original's record of the merged rows: a remote VM's PM is the target as named.
    lines = _lines(rctys, "LIST=PM,LABEL,PID,JOBID,TERSE", "hostA", "hostB")
    # (hostB may share this process table: it sees the qemu as one it did not start. The
    # targets may have PID namespaces of their own: rows are found by the unique label.)
    mine = [ln.split(";") for ln in lines if ln.startswith(f"hostA;{label};")]
    assert len(mine) == 1, lines
    assert mine[0][2].isdigit() and mine[0][3]  # its PID there, the runtime ID ctys gave it
    tab = _lines(rctys, "LIST=TAB_TCP", "hostA", "hostB")
    assert any(ln.startswith("hostA ") and f"|{label}" in ln for ln in tab), tab
    rows = json.loads("\n".join(_lines(rctys, "LIST=JSON", "-o", "ALL", "hostA", "hostB")))
    [row] = [r for r in rows if r["LABEL"] == label and r["HOST"] == "hostA"]
    assert row["PM"] == "hostA" and row["ID"] == str(conf) and row["TYPE"] == "QEMU"

    # Helper actions run on the target (its lines prefixed with its name).
    answer = _lines(rctys, f"ISACTIVE={conf}", "hostA")
    assert answer == [f"hostA: ISACTIVE(QEMU,{conf})=0"]
    port = _vnc_port(pid)
    [clientport] = _lines(rctys, f"GETCLIENTPORT={label}", "hostA")
    assert clientport == f"hostA: CLIENTPORT(QEMU,hostA,{label})={port}"

    show = [ln.split(";") for ln in _lines(rctys, "SHOW=TERSE", "hostA")]
    assert show[0][:2] == ["hostA: HOST", "hostA"]  # its node name is the target's
    assert any(r[0] == "hostA: VM" and r[1] == label and int(r[8]) > 0 for r in show), show
    [info] = _lines(rctys, "INFO=MACHINE", "hostA")
    assert info.startswith("hostA: ") and info.split(";")[1:3] == ["QEMU", "TCG"]

    done = rctys("-t", "QEMU", "-a", f"CANCEL=l:{label},TIMEOUT:20", "hostA", timeout=90)
    assert done.returncode == 0, done.stderr


def test_enumerate_of_two_hosts_in_the_original_forms(rctys: Ctys, ssh_hosts, guest) -> None:  # type: ignore[no-untyped-def]
    host_a, host_b = ssh_hosts(2)
    for host, labels in ((host_a, ("zeta", "alpha")), (host_b, ("omega", "beta"))):
        for label in labels:
            _remote_vm(host, guest, label)
    targets = ("hostA", "hostB")
    # SORT:EACH: each target's records on their own, in the order the targets answered.
    each = _lines(rctys, "ENUMERATE=TAB_GEN:1_host_6%3_label_8,SORT:EACH%2", *targets)
    assert each[:2] == ["host  |label   ", "------+--------"]
    assert each[2:] == [
        "hostA |alpha   ",
        "hostA |zeta    ",
        "hostB |beta    ",
        "hostB |omega   ",
    ]
    # SORT (ALL): the merged records together; TITLEIDXASC headers.
    merged = _lines(rctys, "ENUMERATE=LABEL,TERSE,TITLEIDXASC,SORT:2", *targets)
    assert merged == [
        "ContainingMachine(A-1);Label(C-3)",
        "hostA;alpha",
        "hostB;beta",
        "hostB;omega",
        "hostA;zeta",
    ]
