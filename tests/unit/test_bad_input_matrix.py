"""Bad input that tests/unit/test_cli_errors.py does not cover yet, through the real entry
point: one ``ctys:`` line naming what and where, the exit status, and nothing changed —
the VM folder tree and the inventory hash the same before and after, no runtime folder
and no qemu left. No qemu is run here (every case fails before qemu would run; a conf that
reaches qemu's exec: tests/e2e/test_bad_input_e2e.py)."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ctys.cli.main import main
from support.files import tree_hash
from support.procs import live_qemu_pids

CONF = """\
#@#MAGICID-QEMU
#@#LABEL = {label}
#@#ACCELERATOR = TCG
KERNEL={kernel}
"""


@pytest.fixture
def vmdir(ctys_env: dict[str, str]) -> Path:
    return Path(ctys_env["CTYS_VMPATH"])


@pytest.fixture
def kernel(vmdir: Path) -> Path:
    path = vmdir / "vmlinuz"
    path.write_bytes(b"not really a kernel")
    return path


def write_vm(vmdir: Path, folder: str, text: str | bytes) -> Path:
    (vmdir / folder).mkdir(parents=True, exist_ok=True)
    conf = vmdir / folder / f"{folder}.conf"
    if isinstance(text, bytes):
        conf.write_bytes(text)
    else:
        conf.write_text(text)
    return conf


def unchanged(vmdir: Path) -> Callable[[], None]:
    """Take a snapshot now; the check it returns asserts, in the test's body, that nothing
    under the VM folder or the inventory changed since, and no VM folder and no qemu are left
    (the test's environment comes from the ``ctys_env`` fixture)."""
    inventory = Path(os.environ["CTYS_INVENTORY"])
    runtime = Path(os.environ["CTYS_RUNTIME_DIR"])
    before = tree_hash(vmdir, inventory)

    def check() -> None:
        assert tree_hash(vmdir, inventory) == before, (
            "a bad input changed the VM folder or inventory"
        )
        assert not list((runtime / "vms").glob("*")), "a runtime folder was left behind"
        assert live_qemu_pids(str(runtime)) == []

    return check


def test_unchanged_sees_a_changed_conf_and_a_left_runtime_folder(vmdir: Path) -> None:
    conf = write_vm(vmdir, "x", "#@#MAGICID-QEMU\n")
    check = unchanged(vmdir)
    check()
    conf.write_text("#@#MAGICID-QEMU\n#@#LABEL = y\n")
    with pytest.raises(AssertionError, match="changed the VM folder"):
        check()
    check = unchanged(vmdir)
    (Path(os.environ["CTYS_RUNTIME_DIR"]) / "vms" / "x-1").mkdir(parents=True)
    with pytest.raises(AssertionError, match="runtime folder was left"):
        check()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ctys: ")
    return lines[0]


# --- conf files -------------------------------------------------------------------------


def test_binary_junk_conf_by_filename(capsys: pytest.CaptureFixture[str], vmdir: Path) -> None:
    junk = bytes(range(256)) * 16  # NUL bytes, invalid UTF-8, control characters
    conf = write_vm(vmdir, "junk", b"#@#MAGICID-QEMU\n" + junk)
    assert_unchanged = unchanged(vmdir)
    code, out, err = run(capsys, "-t", "QEMU", "-a", f"CREATE=F:{conf}")
    assert code == 1 and out == ""
    assert f"{conf}:2: binary content" in one_line(err)
    assert_unchanged()


def test_binary_junk_conf_is_skipped_by_label_scan(
    capsys: pytest.CaptureFixture[str], vmdir: Path, kernel: Path
) -> None:
    write_vm(vmdir, "junk", os.urandom(4096).replace(b"\n", b"\0"))
    write_vm(vmdir, "good", CONF.format(label="good", kernel=kernel))
    assert_unchanged = unchanged(vmdir)
    code, _, err = run(capsys, "-t", "QEMU", "-a", "CREATE=l:nosuch")
    assert code == 1
    assert "no VM matches LABEL:nosuch" in (line := one_line(err))
    assert "1 conf file(s) unreadable" in line
    assert_unchanged()


def test_conf_over_one_megabyte_is_refused(
    capsys: pytest.CaptureFixture[str], vmdir: Path, kernel: Path
) -> None:
    body = CONF.format(label="big", kernel=kernel) + 'APPEND="' + "a" * (1 << 20) + '"\n'
    conf = write_vm(vmdir, "big", body)
    assert_unchanged = unchanged(vmdir)
    code, _, err = run(capsys, "-t", "QEMU", "-a", f"CREATE=F:{conf}")
    assert code == 1
    assert f"{conf}:0: larger than 1048576 bytes, not a conf file" in one_line(err)
    assert_unchanged()


def test_one_megabyte_line_with_code_names_its_line(
    capsys: pytest.CaptureFixture[str], vmdir: Path
) -> None:
    conf = write_vm(vmdir, "cs", "#@#MAGICID-QEMU\n#@#LABEL = cs\nX=$(" + "a" * 1_000_000 + "\n")
    assert_unchanged = unchanged(vmdir)
    code, _, err = run(capsys, "-t", "QEMU", "-a", f"CREATE=F:{conf}")
    assert code == 1
    line = one_line(err)
    assert f"{conf}:3: command substitution" in line
    assert len(line) < 500  # the message does not echo the megabyte
    assert_unchanged()


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ('APPEND="console=ttyS0\nKERNEL=/x\n', ":3: unterminated double quote"),
        ("APPEND='console=ttyS0\n\n\n", ":3: unterminated single quote"),
        ('A=1\nB="x\\"\n', ":4: unterminated double quote"),
        ("X=$'abc\n", ":3:"),
        ("X=${A:-\n", ":3:"),
    ],
)
def test_unterminated_quotes_by_filename(
    capsys: pytest.CaptureFixture[str],
    vmdir: Path,
    body: str,
    needle: str,
) -> None:
    conf = write_vm(vmdir, "q", "#@#MAGICID-QEMU\n#@#LABEL = q\n" + body)
    assert_unchanged = unchanged(vmdir)
    code, _, err = run(capsys, "-t", "QEMU", "-a", f"CREATE=F:{conf}")
    assert code == 1
    assert f"{conf}{needle}" in one_line(err)
    assert_unchanged()


# --- addresses ----------------------------------------------------------------------------


def test_label_matching_several_vms_in_the_inventory(
    capsys: pytest.CaptureFixture[str], vmdir: Path, kernel: Path
) -> None:
    a = write_vm(vmdir, "a", CONF.format(label="twin", kernel=kernel))
    b = write_vm(vmdir, "b", CONF.format(label="twin", kernel=kernel))
    code, _, _ = run(capsys, "-t", "QEMU", "-a", "ENUMERATE=TERSE")
    assert code == 0
    assert_unchanged = unchanged(vmdir)
    for action in ("CREATE=l:twin", "CANCEL=l:twin"):
        code, out, err = run(capsys, "-t", "QEMU", "-a", action)
        assert code == 1 and out == ""
        line = one_line(err)
        assert "LABEL:twin is ambiguous, 2 VMs match" in line
        assert str(a) in line and str(b) in line
    assert_unchanged()


# --- ports, pids, runtime dir -------------------------------------------------------------


def test_fixed_vncport_already_taken(
    capsys: pytest.CaptureFixture[str],
    vmdir: Path,
    kernel: Path,
    ctys_env: dict[str, str],
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        write_vm(vmdir, "vp", CONF.format(label="vp", kernel=kernel) + f"#@#VNCPORT = {port}\n")
        assert_unchanged = unchanged(vmdir)
        for console in ("VNC", "CLI"):
            code, out, err = run(capsys, "-t", "QEMU", "-a", f"CREATE=l:vp,CONSOLE:{console}")
            assert code == 1 and out == ""
            assert f"VNCPORT {port} of VM vp on 127.0.0.1: already in use" in one_line(err)
        assert taken.fileno() >= 0  # still ours, still listening
    assert not (Path(ctys_env["CTYS_RUNTIME_DIR"]) / "vms").exists() or not list(
        (Path(ctys_env["CTYS_RUNTIME_DIR"]) / "vms").iterdir()
    )
    assert_unchanged()


def test_stale_record_naming_a_living_unrelated_process(
    capsys: pytest.CaptureFixture[str],
    vmdir: Path,
    kernel: Path,
    ctys_env: dict[str, str],
) -> None:
    from ctys.address.vmid import vm_id
    from ctys.plugins.qemu.vm.runtime import RuntimeDir, RuntimeRecord

    conf = write_vm(vmdir, "st", CONF.format(label="st", kernel=kernel))
    sleeper = subprocess.Popen(["sleep", "300"])
    try:
        runtime = RuntimeDir()
        vmid = vm_id("st", conf)
        rundir = runtime.create_vm_dir(vmid)
        rundir.write_record(RuntimeRecord(vmid=vmid, label="st", conf=str(conf), pid=sleeper.pid))
        rundir.pidfile.write_text(f"{sleeper.pid}\n")
        before = tree_hash(vmdir, Path(ctys_env["CTYS_INVENTORY"]))

        code, out, err = run(capsys, "-t", "QEMU", "-a", "LIST=TERSE", "-o", "LABEL,PID,MANAGED")
        assert code == 0 and err == ""
        # Other qemus of the host may be listed (e.g. one labelled "diinst"): rows, not text.
        rows = [line.split(";") for line in out.splitlines()]
        assert not [r for r in rows if r[0] == "st" or r[1] == str(sleeper.pid)]
        assert not rundir.path.exists()  # the stale record is gone

        rundir = runtime.create_vm_dir(vmid)
        rundir.write_record(RuntimeRecord(vmid=vmid, label="st", conf=str(conf), pid=sleeper.pid))
        code, _, err = run(capsys, "-t", "QEMU", "-a", "CANCEL=l:st,FORCE")
        assert code == 1
        assert "VM st is not running" in one_line(err)

        assert sleeper.poll() is None, "ctys touched an unrelated process"
        assert tree_hash(vmdir, Path(ctys_env["CTYS_INVENTORY"])) == before
    finally:
        sleeper.kill()
        sleeper.wait()


# --- VNCPASS --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sub", "env", "code", "needle"),
    [
        ("VNCPASS:secret", {}, 2, "expected VNCPASS:ENV%VARIABLE or VNCPASS:FILE%PATH"),
        ("VNCPASS:ARGV%secret", {}, 2, "expected VNCPASS:ENV%VARIABLE"),
        ("VNCPASS:ENV%", {}, 2, "expected VNCPASS:ENV%VARIABLE"),
        ("VNCPASS:ENV%CTYS_NO_SUCH_VAR", {}, 1, "environment variable CTYS_NO_SUCH_VAR is not set"),
        ("VNCPASS:ENV%CTYS_T_PW", {"CTYS_T_PW": "123456789"}, 1, "1 to 8 characters"),
        ("VNCPASS:ENV%CTYS_T_PW", {"CTYS_T_PW": ""}, 1, "1 to 8 characters"),
        ("VNCPASS:FILE%/nonexistent/pw", {}, 1, "cannot read /nonexistent/pw: No such file"),
        ("VNCPASS:ENV%CTYS_T_PW,CONSOLE:CLI0", {"CTYS_T_PW": "pw"}, 2, "VNCPASS needs a VNC"),
    ],
)
def test_vncpass_refusals(
    capsys: pytest.CaptureFixture[str],
    vmdir: Path,
    kernel: Path,
    monkeypatch: pytest.MonkeyPatch,
    sub: str,
    env: dict[str, str],
    code: int,
    needle: str,
) -> None:
    write_vm(vmdir, "pw", CONF.format(label="pw", kernel=kernel))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert_unchanged = unchanged(vmdir)
    got, _, err = run(capsys, "-t", "QEMU", "-a", f"CREATE=l:pw,{sub}")
    assert got == code
    assert needle in one_line(err)
    assert_unchanged()
