"""qemu arguments that run host programs or load host code (ctys.plugins.qemu.boot.hostexec),
who may boot a conf holding them (ctys.plugins.qemu.boot.execpolicy), and how CREATE, LIST and
ENUMERATE treat such a conf."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ctys.cli.main import main
from ctys.errors import ConfError
from ctys.invocation import ActionCall, Invocation
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions import list as list_action
from ctys.plugins.qemu.actions import listout as listout_action
from ctys.plugins.qemu.boot import execpolicy
from ctys.plugins.qemu.boot.execpolicy import check_may_boot, host_exec_warnings
from ctys.plugins.qemu.boot.hostexec import find_host_exec
from ctys.plugins.qemu.confs.mapping import load_vm_config
from ctys.plugins.qemu.vm.cmdline import parse_qemu_cmdline
from ctys.plugins.qemu.vm.processes import QemuProcess
from ctys.plugins.qemu.vm.runtime import RuntimeDir


@pytest.mark.parametrize(
    ("args", "option", "piece"),
    [
        (["-netdev", "tap,id=n0,script=/x.sh"], "-netdev", "script=/x.sh"),
        (["-netdev", "tap,id=n0,script=no,downscript=/y"], "-netdev", "downscript=/y"),
        (["--netdev", "tap,id=n0,script=/x.sh"], "-netdev", "script=/x.sh"),
        (["-net", "tap,script=/x.sh"], "-net", "script=/x.sh"),
        (["-nic", "tap,model=e1000,script=/x.sh"], "-nic", "script=/x.sh"),
        (["-netdev", "bridge,id=n0,br=br0,helper=/tmp/h"], "-netdev", "helper=/tmp/h"),
        (["-netdev", "tap,id=n,helper=/h --x"], "-netdev", "helper=/h --x"),
        (["-netdev", "tap,id=n,script=/a,,b.sh"], "-netdev", "script=/a,b.sh"),
        (
            ["-netdev", "user,id=n,guestfwd=tcp:10.0.2.100:80-cmd:nc evil 80"],
            "-netdev",
            "guestfwd=tcp:10.0.2.100:80-cmd:nc evil 80",
        ),
        (["-nic", "user,smb=/home/me"], "-nic", "smb=/home/me"),
        (["-netdev", '{"type":"tap","id":"n","script":"/x.sh"}'], "-netdev", "script=/x.sh"),
        (
            ["-netdev", '{"type":"user","id":"n","guestfwd":[{"str":"tcp:1.2.3.4:5-cmd:id"}]}'],
            "-netdev",
            "guestfwd=tcp:1.2.3.4:5-cmd:id",
        ),
        (["-incoming", "exec:cat /tmp/state"], "-incoming", "exec:cat /tmp/state"),
        (["-plugin", "file=/tmp/libevil.so"], "-plugin", "-plugin file=/tmp/libevil.so"),
        (["-m", "64", "-plugin"], "-plugin", "-plugin"),
        (["-readconfig", "/tmp/more.cfg"], "-readconfig", "-readconfig /tmp/more.cfg"),
        (["-run-with", "user=nobody"], "-run-with", "-run-with user=nobody"),
        (["-chroot", "/srv"], "-chroot", "-chroot /srv"),
        (["-runas", "nobody"], "-runas", "-runas nobody"),
    ],
)
def test_arguments_that_run_host_code_are_found(args: list[str], option: str, piece: str) -> None:
    found = find_host_exec(args)
    assert [(f.option, f.piece) for f in found] == [(option, piece)]
    assert piece in found[0].describe() and option in found[0].describe()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["-device", "virtio-rng-pci", "-serial", "file:/tmp/x.log"],
        ["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"],
        ["-netdev", "tap,id=n0,fd=3"],
        ["-netdev", "bridge,id=n0,br=br0"],  # the host's own default helper
        ["-netdev", "user,id=n0,hostfwd=tcp::2222-:22,guestfwd=tcp:10.0.2.100:80-tcp:1.2.3.4:80"],
        ["-netdev", "vde,id=n0,sock=/tmp/vde.ctl"],
        ["-incoming", "tcp:127.0.0.1:4444"],
        ["-add-fd", "fd=3,set=1"],
        ["-object", "memory-backend-file,id=m,size=64M,mem-path=/dev/shm/x"],
        ["-append", "console=ttyS0 script=/x.sh"],  # not a network option's value
        ["-netdev", "{not json"],
    ],
)
def test_harmless_arguments_are_not_flagged(args: list[str]) -> None:
    assert find_host_exec(args) == ()


def test_every_offending_argument_is_reported() -> None:
    args = ["-netdev", "tap,id=a,script=/x,downscript=/y", "-plugin", "f.so"]
    assert [f.piece for f in find_host_exec(args)] == ["script=/x", "downscript=/y", "-plugin f.so"]


# -- who may boot it --------------------------------------------------------------------

EVIL = """\
#@#MAGICID-QEMU
#@#LABEL = evil
KERNEL=vmlinuz

ARGS="-netdev tap,id=n0,script=/tmp/x.sh -device e1000,netdev=n0"
"""


@pytest.fixture
def evil_conf(tmp_path: Path) -> Path:
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "vmlinuz").write_bytes(b"k")
    conf = folder / "evil.conf"
    conf.write_text(EVIL)
    return conf


@pytest.fixture
def not_mine(monkeypatch: pytest.MonkeyPatch, evil_conf: Path) -> None:
    """Make the conf someone else's: the caller's uid differs from the file's."""
    owner = evil_conf.stat().st_uid
    monkeypatch.setattr(execpolicy, "caller_uid", lambda: owner + 4242)


def test_owner_may_boot_a_conf_that_runs_programs(evil_conf: Path) -> None:
    check_may_boot(load_vm_config(evil_conf))  # no error: the caller's own file


def test_others_conf_that_runs_programs_is_refused_with_file_line_and_argument(
    evil_conf: Path, not_mine: None
) -> None:
    with pytest.raises(ConfError) as info:
        check_may_boot(load_vm_config(evil_conf))
    message = str(info.value)
    assert message.startswith(f"{evil_conf}:5: not booted: ARGS 'script=/tmp/x.sh' in -netdev")
    assert "only its owner may boot it" in message and "\n" not in message


def test_others_harmless_conf_is_not_refused(evil_conf: Path, not_mine: None) -> None:
    evil_conf.write_text(EVIL.replace("script=/tmp/x.sh", "script=no"))
    check_may_boot(load_vm_config(evil_conf))


def test_others_conf_with_a_qemubin_path_is_refused(evil_conf: Path, not_mine: None) -> None:
    evil_conf.write_text(EVIL.replace("script=/tmp/x.sh", "script=no") + "QEMUBIN=/tmp/q\n")
    with pytest.raises(ConfError) as info:
        check_may_boot(load_vm_config(evil_conf))
    assert str(info.value).startswith(
        f"{evil_conf}:6: not booted: QEMUBIN '/tmp/q' is the program CREATE would run as you"
    )
    evil_conf.write_text(EVIL.replace("script=/tmp/x.sh", "script=no") + "QEMUBIN=qemu-kvm\n")
    check_may_boot(load_vm_config(evil_conf))  # a bare name: found in the caller's PATH


def test_warnings_name_file_argument_and_owner(evil_conf: Path, not_mine: None) -> None:
    harmless = evil_conf.parent / "ok.conf"
    harmless.write_text("#@#MAGICID-QEMU\nARGS='-m 64'\n")
    lines = list(host_exec_warnings([load_vm_config(evil_conf), load_vm_config(harmless)]))
    assert len(lines) == 1
    assert lines[0].startswith(f"ctys: warning: {evil_conf}: ARGS 'script=/tmp/x.sh' in -netdev")
    assert "CREATE refuses it" in lines[0]


# -- through the actions ---------------------------------------------------------------


def test_create_refuses_before_anything_runs(
    ctys_env: dict[str, str],
    evil_conf: Path,
    not_mine: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    marker = Path("/tmp/x.sh")
    assert not marker.exists()
    code = main(["-t", "QEMU", "-a", f"CREATE=F:{evil_conf}", "-C", "off"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert f"{evil_conf}:5: not booted: ARGS 'script=/tmp/x.sh'" in err
    assert not any(Path(ctys_env["CTYS_RUNTIME_DIR"]).glob("vms/*"))


def test_enumerate_warns_about_it(
    ctys_env: dict[str, str], not_mine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    vms = Path(ctys_env["CTYS_VMPATH"])
    (vms / "evil").mkdir()
    conf = vms / "evil" / "evil.conf"
    conf.write_text(EVIL)
    for fmt in ("", "=TERSE", "=JSON"):
        assert main(["-t", "QEMU", "-a", f"ENUMERATE{fmt}", "-o", "label"]) == 0
        out, err = capsys.readouterr()
        assert "evil" in out  # still listed: it is a VM, only flagged
        assert f"ctys: warning: {conf}: ARGS 'script=/tmp/x.sh' in -netdev" in err


def test_list_warns_about_a_running_vm_whose_conf_runs_programs(
    tmp_path: Path, evil_conf: Path, not_mine: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ["qemu-system-x86_64", "-name", "evil", "-m", "64"]
    procs = [QemuProcess(77, "alice", 1.0, parse_qemu_cmdline(argv))]
    monkeypatch.setattr(list_action, "scan_qemu_processes", lambda: procs)
    monkeypatch.setattr(list_action, "query_status", lambda *a, **k: "running", raising=False)
    out, err = io.StringIO(), io.StringIO()
    ctx = RunContext(Invocation(), out, err)
    confs = [load_vm_config(evil_conf)]
    assert listout_action.run_list(ActionCall("LIST"), ctx, RuntimeDir(tmp_path / "rt"), confs) == 0
    assert "evil" in out.getvalue()
    assert f"ctys: warning: {evil_conf}: ARGS 'script=/tmp/x.sh'" in err.getvalue()
