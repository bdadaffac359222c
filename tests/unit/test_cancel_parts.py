"""The parts of CANCEL that need no qemu: the block form, the client finder's reading of
``ss``, SELF's confirmation and command, INIT's ssh argv, the saved-state note and the
restore's checks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from test_cancelreq import cancel  # the parsed request of one CANCEL= text

from ctys.errors import UsageError, VmStateError
from ctys.plugins.qemu.actions import selfcancel
from ctys.plugins.qemu.actions.cancelout import Reported, block, client_line
from ctys.plugins.qemu.actions.clients import parse_ss, unix_peers
from ctys.plugins.qemu.actions.guestinit import guest_ssh_argv
from ctys.plugins.qemu.actions.restore import check_disks_unchanged, restore_args
from ctys.plugins.qemu.actions.suspend import (
    SavedHow,
    SavedState,
    disk_stamps,
    note_path,
    read_saved,
    state_path,
)


def test_poweroff_block_has_delay_and_flag() -> None:
    vm = Reported("v\x1b1", "/vms/v1/v1.conf", 42, "/run/v1/qmp.sock", "powered off")
    lines = block(cancel("l:v1,FORCE,POWEROFF:7"), vm)
    assert lines == [
        "",
        "-" * 28,
        "POWEROFF-SERVER Session:",
        "   ID    =/vms/v1/v1.conf",
        "   LABEL =v\\x1b1",  # a label from a conf never reaches the terminal raw
        "   PID   =42",
        "   SPORT =/run/v1/qmp.sock",
        "   DELAY =7",
        "   FLAG  =FORCE",
        "-" * 28,
        "v\\x1b1: powered off",
        "",
        "-" * 28,
        "",
    ]
    assert block(cancel("l:v1,S4"), vm)[2] == "SUSPEND-SERVER Session:"
    assert "   DELAY =20" not in block(cancel("l:v1,S4"), vm)


def test_client_line_is_the_originals() -> None:
    assert client_line("vm1", 77) == 'CANCEL-CLIENT Session:"vm1":PID=77   ID    =vm1   PID   =77'


SS = """\
u_str ESTAB 0 0 /run/vms/v1/console.sock 1001 * 2001 users:(("qemu-system-x86",pid=10,fd=9))
u_str ESTAB 0 0 * 2001 * 1001 users:(("python3",pid=20,fd=3))
u_str ESTAB 0 0 /run/vms/v1/vnc.sock 1002 * 2002 users:(("qemu-system-x86",pid=10,fd=11))
u_str ESTAB 0 0 * 2002 * 1002 users:(("vncviewer",pid=30,fd=5),("vncviewer",pid=31,fd=5))
u_str ESTAB 0 0 /run/vms/v2/console.sock 1003 * 2003 users:(("qemu-system-x86",pid=11,fd=9))
u_str ESTAB 0 0 * 2003 * 1003 users:(("python3",pid=40,fd=3))
u_str LISTEN 0 5 /run/vms/v1/qmp.sock 1004 * 0 users:(("qemu-system-x86",pid=10,fd=4))
garbage line
"""


def test_clients_are_the_peers_of_the_vms_own_sockets_only() -> None:
    rows = parse_ss(SS)
    assert len(rows) == 7
    paths = {"/run/vms/v1/console.sock", "/run/vms/v1/vnc.sock"}
    assert unix_peers(rows, paths) == {20, 30, 31}
    assert unix_peers(rows, {"/run/vms/v9/console.sock"}) == set()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_self_confirmation() -> None:
    selfcancel.confirm_self(cancel("ALL"), name="lab01")  # no SELF: nothing asked
    selfcancel.confirm_self(cancel("ALL,SELF:lab01"), name="lab01.example.org")
    selfcancel.confirm_self(cancel("ALL,SELF:LAB01.example.org"), name="lab01.example.org")
    with pytest.raises(UsageError, match="SELF:lab02 names another host: this is lab01"):
        selfcancel.confirm_self(cancel("ALL,SELF:lab02"), name="lab01")
    with pytest.raises(UsageError, match=r"confirm with SELF:lab01 \(no terminal"):
        selfcancel.confirm_self(
            cancel("ALL,SELF"), name="lab01", stdin=io.StringIO("lab01\n"), err=io.StringIO()
        )
    err = _Tty()
    selfcancel.confirm_self(cancel("ALL,SELF"), name="lab01", stdin=_Tty("lab01\n"), err=err)
    assert "Type its name to go on" in err.getvalue()
    with pytest.raises(UsageError, match="SELF not confirmed for lab01"):
        selfcancel.confirm_self(cancel("ALL,SELF"), name="lab01", stdin=_Tty("y\n"), err=_Tty())


@pytest.mark.parametrize(
    ("mode", "argv"),
    [
        ("POWEROFF", ["systemctl", "poweroff"]),
        ("S3", ["systemctl", "poweroff"]),
        ("REBOOT", ["systemctl", "reboot"]),
        ("RESET", ["systemctl", "reboot"]),
        ("INIT:3", ["telinit", "3"]),
    ],
)
def test_self_command(mode: str, argv: list[str]) -> None:
    req = cancel(f"ALL,SELF:h,{mode}")
    assert selfcancel.self_argv(req, which=lambda name: f"/bin/{name}") == argv
    if argv[0] == "systemctl":
        assert selfcancel.self_argv(req, which=lambda name: None) == [argv[1]]


def test_init_over_ssh_argv() -> None:
    assert guest_ssh_argv("10.0.2.15", "3", port=2222, user="root") == [
        "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-p", "2222", "-l", "root",
        "--", "10.0.2.15", "telinit", "3",
    ]  # fmt: skip
    assert guest_ssh_argv("-oProxyCommand=x", "1")[-4:] == [
        "--",
        "-oProxyCommand=x",
        "telinit",
        "1",
    ]


def test_saved_state_note_round_trip_and_restore_args(tmp_path: Path) -> None:
    conf = tmp_path / "vm1.conf"
    assert note_path(conf).name == "vm1.S4.json" and state_path(conf).name == "vm1.S4.vmstate"
    assert read_saved(conf) is None
    disk = tmp_path / "d.raw"
    disk.write_bytes(b"x" * 10)
    saved = SavedState(
        SavedHow.FILE, "vm1", str(conf), "VNC", 1.5, str(state_path(conf)),
        disk_stamps([str(disk), str(tmp_path / "gone")]),
    )  # fmt: skip
    note_path(conf).write_text(saved.to_json())
    assert read_saved(conf) == saved
    assert len(saved.disks) == 1  # a missing file is not stamped
    assert restore_args(saved) == ("-incoming", "defer")
    snap = SavedState(SavedHow.SNAPSHOT, "vm1", str(conf), "CLI", 1.0)
    assert restore_args(snap) == ("-loadvm", "S4")
    note_path(conf).write_text("{not json")
    with pytest.raises(Exception, match="is damaged"):
        read_saved(conf)


def test_restore_refuses_changed_or_missing_disks_and_a_missing_state(tmp_path: Path) -> None:
    conf = tmp_path / "vm1.conf"
    disk = tmp_path / "d.raw"
    disk.write_bytes(b"x" * 10)
    state = state_path(conf)
    state.write_bytes(b"QEVM")
    saved = SavedState(
        SavedHow.FILE, "vm1", str(conf), "CLI", 1.0, str(state), disk_stamps([str(disk)])
    )
    check_disks_unchanged(saved)
    disk.write_bytes(b"y" * 11)
    with pytest.raises(VmStateError, match="changed since CANCEL SUSPEND"):
        check_disks_unchanged(saved)
    disk.unlink()
    with pytest.raises(VmStateError, match="is gone since CANCEL SUSPEND"):
        check_disks_unchanged(saved)
    state.unlink()
    with pytest.raises(VmStateError, match=r"saved state .* is missing"):
        check_disks_unchanged(SavedState(SavedHow.FILE, "vm1", str(conf), "CLI", 1.0, str(state)))
