"""The ssh command line for a target, and the quoting of the remote command."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ctys.invocation import Target
from ctys.remote.ssh import (
    control_dir,
    remote_command,
    rows_program,
    ssh_argv,
    ssh_host,
    target_name,
)

NO_ENV: dict[str, str] = {}
# Any text an argv word can hold: no NUL, no lone surrogates (not encodable).
WORDS = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))


def test_argv_shape_with_connection_sharing(tmp_path: Path) -> None:
    argv = ssh_argv(
        Target("host1"),
        ["-t", "QEMU", "-a", "LIST"],
        user=None,
        pty=False,
        connect_timeout=5,
        control_dir=tmp_path,
        env=NO_ENV,
    )
    assert argv == [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
        "-o",
        "ControlMaster=auto",
        "-o",
        f"ControlPath={tmp_path}/%C",
        "-o",
        "ControlPersist=60",
        "-T",
        "--",
        "host1",
        "ctys -t QEMU -a LIST",
    ]


def test_user_pty_config_and_remote_ctys() -> None:
    env = {"CTYS_SSH_CONFIG": "/tmp/cfg", "CTYS_REMOTE_CTYS": "/opt/venv/bin/python -m ctys"}
    argv = ssh_argv(
        Target("far"), ["-a", "LIST"], user="bob", pty=True, connect_timeout=2.5,
        control_dir=None, env=env,
    )  # fmt: skip
    assert argv[argv.index("-F") + 1] == "/tmp/cfg"
    assert argv[argv.index("-l") + 1] == "bob"
    assert "-t" in argv and "-T" not in argv
    assert "ConnectTimeout=3" in argv  # ssh takes whole seconds: rounded up, never 0
    assert not any(a.startswith("Control") for a in argv)
    assert argv[-3:] == ["--", "far", "/opt/venv/bin/python -m ctys -a LIST"]


def test_user_of_the_target_wins_over_dash_l() -> None:
    argv = ssh_argv(
        Target("far", "alice"), [], user="bob", pty=False, connect_timeout=1,
        control_dir=None, env=NO_ENV,
    )  # fmt: skip
    assert argv[argv.index("-l") + 1] == "alice"
    assert target_name(Target("far", "alice")) == "alice@far"


def test_host_never_taken_for_an_option_and_ipv6_literal() -> None:
    argv = ssh_argv(
        Target("[::1]"), [], user=None, pty=False, connect_timeout=1, control_dir=None,
        env=NO_ENV,
    )  # fmt: skip
    assert argv[-3:-1] == ["--", "::1"]
    assert ssh_host(Target("[fe80::1%eth0]")) == "fe80::1%eth0"


def test_percent_in_control_dir_is_doubled(tmp_path: Path) -> None:
    odd = tmp_path / "a%b"
    argv = ssh_argv(
        Target("h"), [], user=None, pty=False, connect_timeout=1, control_dir=odd, env=NO_ENV
    )
    assert f"ControlPath={tmp_path}/a%%b/%C" in argv


def test_control_dir_is_private(tmp_path: Path) -> None:
    path = control_dir(tmp_path)
    assert path == tmp_path / "ssh"
    assert path.stat().st_mode & 0o777 == 0o700


def test_labels_and_paths_with_shell_syntax_stay_one_word() -> None:
    args = ["-a", "CREATE=l:vm1;rm -rf /,F:/tmp/$(reboot)/x y.conf", "`id`", "", "'\""]
    command = remote_command(args, NO_ENV)
    assert shlex.split(command) == ["ctys", *args]


@given(st.lists(WORDS, max_size=8))
def test_remote_command_splits_back_exactly(args: list[str]) -> None:
    assert shlex.split(remote_command(args, NO_ENV)) == ["ctys", *args]


@settings(max_examples=40, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=5))
def test_a_real_posix_shell_gets_back_exactly_the_args(args: list[str]) -> None:
    # What sshd does with the command: ``$SHELL -c STRING``. printf prints each word it was
    # given, NUL-terminated: nothing may have been expanded, split or substituted.
    env = {"CTYS_REMOTE_CTYS": r"printf %s\\0"}
    command = remote_command(args, env)
    out = subprocess.run(["sh", "-c", command], capture_output=True, check=True).stdout
    assert out.decode("utf-8", "surrogateescape").split("\0")[:-1] == args


# --- the lean rows entry beside the remote ctys ---------------------------------------------

ROWS = ("ctys-rows", "ctys.plugins.qemu.actions.rowsentry")


def test_rows_program_is_found_beside_the_remote_ctys() -> None:
    assert rows_program(*ROWS, NO_ENV) == ["ctys-rows"]  # on the remote PATH, as ctys
    venv = {"CTYS_REMOTE_CTYS": "'/opt/ctys venv/bin/ctys'"}  # shell words
    assert rows_program(*ROWS, venv) == ["/opt/ctys venv/bin/ctys-rows"]
    module = {"CTYS_REMOTE_CTYS": "/usr/bin/python3 -I -m ctys"}
    assert rows_program(*ROWS, module) == ["/usr/bin/python3", "-I", "-m", ROWS[1]]


def test_no_rows_program_for_a_wrapper_or_when_switched_off() -> None:
    for wrapper in ("sudo -u vm ctys", "/usr/local/bin/myctys", "python3 -m ctys.cli"):
        assert rows_program(*ROWS, {"CTYS_REMOTE_CTYS": wrapper}) is None
    for off in ("off", "OFF", "0", "no"):
        assert rows_program(*ROWS, {"CTYS_REMOTE_ROWS": off}) is None
    assert rows_program(*ROWS, {"CTYS_REMOTE_ROWS": "on"}) == ["ctys-rows"]


def test_the_rows_program_replaces_ctys_in_the_one_remote_word() -> None:
    env = {"CTYS_REMOTE_CTYS": "/v/bin/ctys"}
    program = rows_program(*ROWS, env)
    argv = ssh_argv(
        Target("h1"), ["-a", "LIST=JSON", "-o", "ALL"], user=None, pty=False,
        connect_timeout=5, control_dir=None, env=env, program=program,
    )  # fmt: skip
    assert argv[-3:-1] == ["--", "h1"]
    assert shlex.split(argv[-1]) == ["/v/bin/ctys-rows", "-a", "LIST=JSON", "-o", "ALL"]


@given(st.lists(WORDS, min_size=1, max_size=3), st.lists(WORDS, max_size=6))
def test_any_program_and_args_split_back_exactly(program: list[str], args: list[str]) -> None:
    assert shlex.split(remote_command(args, NO_ENV, program)) == [*program, *args]


@settings(max_examples=30, deadline=None)
@given(
    WORDS.filter(lambda w: "/" not in w and w not in ("", ".", "..")), st.lists(WORDS, max_size=4)
)
def test_a_rows_program_beside_a_ctys_in_any_folder_reaches_a_real_shell_exactly(
    folder: str, args: list[str]
) -> None:
    # The folder of the remote ctys may hold any character: the rows entry beside it is
    # still one word for the remote shell. A stand-in "ctys-rows" prints its argv.
    env = {"CTYS_REMOTE_CTYS": shlex.quote(f"/tmp/{folder}/ctys")}  # shell words
    program = rows_program(*ROWS, env)
    assert program == [f"/tmp/{folder}/ctys-rows"]
    command = remote_command(args, env, ["printf", r"%s\0", *program])
    out = subprocess.run(["sh", "-c", command], capture_output=True, check=True).stdout
    assert out.decode("utf-8", "surrogateescape").split("\0")[:-1] == [*program, *args]
