"""The helper actions SHOW, GETCLIENTPORT, ISACTIVE and INFO=MACHINE through the real
entry point and their pure parts (issue 13, point 6); the original's bare ID suboption
(a path). No qemu runs here: SHOW measures this test's own process."""

from __future__ import annotations

import io
import json
import os

import pytest

from ctys.argscan import parse_action
from ctys.cli.main import main
from ctys.errors import UsageError
from ctys.invocation import OutputFormat, Suboption
from ctys.plugins.qemu.actions.list import VmEntry
from ctys.plugins.qemu.actions.show import (
    HOST_FIELDS,
    VM_FIELDS,
    host_row,
    parse_show,
    vm_rows,
    write_show,
)


def test_a_bare_absolute_path_is_the_originals_id() -> None:
    call = parse_action("ISACTIVE=/vms/my vm/x.conf")
    assert call.suboptions == (Suboption("ID", ("/vms/my vm/x.conf",), "/vms/my vm/x.conf"),)
    cancel = parse_action(r"CANCEL=/a\,b/x.conf,FORCE")
    assert cancel.suboptions[0].args == ("/a,b/x.conf",) and cancel.suboptions[1].key == "FORCE"


def test_show_measures_a_running_process() -> None:
    me = VmEntry(label="self", pid=os.getpid(), managed=False, state="running", vcpus=2)
    gone = VmEntry(label="gone", pid=99_999_999, managed=False, state="running")
    [row] = vm_rows([me, gone], sample=0.05)  # an ended process is left out
    assert set(row) == set(VM_FIELDS)
    assert (row["LABEL"], row["PID"], row["VCPUS"]) == ("self", os.getpid(), 2)
    assert isinstance(row["RSS_MB"], int) and row["RSS_MB"] > 0
    assert isinstance(row["CPU%"], float) and row["THREADS"] >= 1
    host = host_row("h1", 1, 12.345)
    assert set(host) == set(HOST_FIELDS)
    assert host["NODE"] == "h1" and host["CPU%"] == 12.3
    assert host["MEM_TOTAL_MB"] >= host["MEM_AVAIL_MB"] > 0  # type: ignore[operator]


def test_show_forms() -> None:
    host = dict.fromkeys(HOST_FIELDS, 1) | {"NODE": "h;1"}
    vms = [dict.fromkeys(VM_FIELDS, 2) | {"LABEL": "a\x1bb"}]
    out = io.StringIO()
    write_show(host, vms, OutputFormat.TERSE, out, title=True)
    lines = out.getvalue().splitlines()
    assert lines[0] == "HOST;" + ";".join(HOST_FIELDS)
    assert lines[1].startswith("HOST;h\\;1;1;")  # escaped: one record stays one line
    assert lines[2] == "VM;" + ";".join(VM_FIELDS)
    assert lines[3].startswith("VM;a\\x1bb;2;")
    out = io.StringIO()
    write_show(host, vms, OutputFormat.JSON, out)
    assert json.loads(out.getvalue())["vms"][0]["LABEL"] == "a\x1bb"


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("SHOW", OutputFormat.TABLE, (OutputFormat.TABLE, False)),
        ("SHOW=TERSE,TITLE", OutputFormat.TABLE, (OutputFormat.TERSE, True)),
        ("SHOW=MACHINE", OutputFormat.TABLE, (OutputFormat.TERSE, False)),
        ("SHOW", OutputFormat.JSON, (OutputFormat.JSON, False)),
    ],
)
def test_parse_show(text: str, fmt: OutputFormat, expected: tuple[OutputFormat, bool]) -> None:
    assert parse_show(parse_action(text), fmt, terse_flag=False) == expected
    assert (
        parse_show(parse_action("SHOW"), OutputFormat.TABLE, terse_flag=True)[0]
        is OutputFormat.TERSE
    )


@pytest.mark.parametrize("text", ["SHOW=LABEL", "SHOW=SORT", "SHOW=TAB_GEN:1"])
def test_show_refuses_other_suboptions(text: str) -> None:
    with pytest.raises(UsageError, match="unknown SHOW suboption"):
        parse_show(parse_action(text), OutputFormat.TABLE, terse_flag=False)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["-t", "QEMU", "-a", *argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def test_helpers_through_the_entry_point_with_nothing_running(
    ctys_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "ISACTIVE=/no/such/vm.conf")
    assert (code, out) == (0, "ISACTIVE(QEMU,/no/such/vm.conf)=1\n")
    code, out, _ = _run(capsys, "GETCLIENTPORT=nosuch-label-xyz")
    host = ctys_env.get("CTYS_HOSTNAME") or os.uname().nodename
    assert (code, out) == (0, f"CLIENTPORT(QEMU,{host},nosuch-label-xyz)=NO-CPORT\n")
    code, _, err = _run(capsys, "GETCLIENTPORT")
    assert code == 2 and "GETCLIENTPORT needs its argument" in err
    code, out, _ = _run(capsys, "SHOW=TERSE")
    assert code == 0 and out.startswith("HOST;")


def test_info_machine_line() -> None:
    from pathlib import Path

    from ctys.plugins.qemu.actions.infomachine import machine_line
    from ctys.plugins.qemu.host.detect import HostCapabilities, QemuCapabilities, host_arch
    from ctys.plugins.qemu.host.kvmprobe import KvmState

    caps = QemuCapabilities(
        path=Path("/usr/bin/qemu-system-x86_64"),
        version="8.2.2",
        version_info=(8, 2, 2),
        arch="x86_64",
        variant="",
        machines=(),
        default_machine=None,
        accelerators=frozenset({"tcg", "kvm"}),
        options=frozenset(),
        displays=frozenset(),
    )
    host = HostCapabilities((caps,), KvmState(usable=True, reason="probe passed"))
    line = machine_line(host, "u@h1", "0.1.0", vde=False)
    assert line == (
        f"u@h1;QEMU;KVM;0.1.0;QEMU_GENERIC;ENABLED;VM-CAPABILITY:QEMU-8.2.2-{host_arch()} "
        "<CPU-Emulation:qemu-system-x86_64> <KVM:usable>"
    )
    none = HostCapabilities((), KvmState(usable=False, reason="no qemu"))
    assert machine_line(none, "u@h1", "0.1.0", vde=True) == (
        "u@h1;QEMU;TCG;0.1.0;NOLOC;DISABLED;<KVM:unusable>"
    )
