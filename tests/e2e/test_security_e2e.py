"""Security: the private runtime dir and its sockets, the VNC password (VNCPASS), another
user on the same host, and no shell anywhere in ctys. (VNC on the VM's private UNIX socket
by default: tests/e2e/test_vnc.py.)"""

from __future__ import annotations

import ast
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

import ctys
from support.cli import Ctys
from support.rows import list_rows, own_rows

SRC = Path(ctys.__file__).parent


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _rundir(ctys_env: dict[str, str], label: str) -> Path:
    [found] = Path(ctys_env["CTYS_RUNTIME_DIR"], "vms").glob(f"{label}-*")
    return found


def test_runtime_dir_is_private_and_sockets_are_0600(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str]
) -> None:
    make_vm("priv")
    os.umask(0o022)  # the usual umask: ctys must not depend on a stricter one
    assert ctys("-t", "QEMU", "-a", "CREATE=l:priv,WAIT:guest#", "-b", "1").returncode == 0
    runtime = Path(ctys_env["CTYS_RUNTIME_DIR"])
    vmdir = _rundir(ctys_env, "priv")
    for folder in (runtime, runtime / "vms", runtime / "locks", vmdir):
        assert _mode(folder) == 0o700, f"{folder}: {_mode(folder):o}"
    for name in ("qmp.sock", "console.sock"):
        # qemu binds them under umask 077: 0700 (for a socket the x bit means nothing;
        # connecting needs w). What matters: no bit for group or others.
        sock = vmdir / name
        assert stat.S_ISSOCK(sock.lstat().st_mode)
        assert _mode(sock) & 0o077 == 0 and _mode(sock) & 0o600 == 0o600, f"{_mode(sock):o}"
    for name in ("console.log", "qemu.pid", "qemu.log", "state.json"):
        assert _mode(vmdir / name) == 0o600, f"{name}: {_mode(vmdir / name):o}"
    for path in vmdir.iterdir():  # nothing in it open to others, whoever created it
        assert _mode(path) & 0o077 == 0, f"{path}: {_mode(path):o}"
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:priv,FORCE").returncode == 0


def _vncdo(port: int, target: Path, password: str | None) -> subprocess.CompletedProcess[str]:
    vncdo = Path(sys.executable).with_name("vncdo")
    argv = [str(vncdo), "-s", f"127.0.0.1::{port}"]
    if password is not None:
        argv += ["-p", password]
    try:
        return subprocess.run(
            [*argv, "capture", str(target)],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:  # a client that got no access may hang
        return subprocess.CompletedProcess(exc.cmd, -1, "", "timeout")


@pytest.mark.parametrize("origin", ["ENV", "FILE"])
def test_vnc_password_keeps_out_clients_without_it(
    ctys: Ctys,
    make_vm: Callable[..., Path],
    ctys_env: dict[str, str],
    short_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    origin: str,
) -> None:
    secret = uuid.uuid4().hex[:8]
    if origin == "ENV":
        monkeypatch.setenv("CTYS_TEST_VNCPASS", secret)
        ctys_env["CTYS_TEST_VNCPASS"] = secret
        sub = "VNCPASS:ENV%CTYS_TEST_VNCPASS"
    else:
        pwfile = short_tmp / "vnc.pw"
        pwfile.write_text(secret + "\n")
        sub = f"VNCPASS:FILE%{pwfile}"
    make_vm("locked")
    create = f"CREATE=l:locked,CONSOLE:VNC,VNCBIND:127.0.0.1,{sub},WAIT:guest#"
    done = ctys("-t", "QEMU", "-a", create, "-b", "1")
    assert done.returncode == 0, done.stderr
    [row] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
    assert row["LABEL"] == "locked"
    port = int(str(row["VNC"]).rsplit(":", 1)[1])

    # The password is nowhere another user could read it: not in qemu's argv, not in the
    # runtime record.
    cmdline = " ".join(psutil.Process(int(row["PID"])).cmdline())
    assert secret not in cmdline and "password=on" in cmdline
    assert secret not in (_rundir(ctys_env, "locked") / "state.json").read_text()
    assert not (_rundir(ctys_env, "locked") / "vnc.pass").exists()  # VNCPASS is not stored
    assert secret not in done.stdout + done.stderr

    shot = short_tmp / "shot.png"
    assert _vncdo(port, shot, None).returncode != 0
    assert not shot.exists()
    assert _vncdo(port, shot, "wrong-pw").returncode != 0
    assert not shot.exists()
    right = _vncdo(port, shot, secret)
    assert right.returncode == 0, right.stderr
    assert shot.stat().st_size > 0
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:locked,FORCE").returncode == 0


# --- another user -----------------------------------------------------------------------


@pytest.fixture
def other_user() -> Iterator[str]:
    """A throwaway local user (needs root; skipped otherwise)."""
    if os.getuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"):
        pytest.skip("needs root with useradd and runuser")
    name = f"ctyst{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/false", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False)


def _as_user(user: str, home: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ctys as ``user`` with its own runtime dir. The system python (our venv's python
    lives under /root, closed to others) with our sources and site-packages on the path."""
    site = next(Path(sys.prefix, "lib").glob("python3*/site-packages"))
    python = shutil.which("python3", path="/usr/bin:/bin") or "python3"
    env = [
        "PATH=/usr/bin:/bin",
        f"HOME={home}",
        f"CTYS_RUNTIME_DIR={home / 'rt'}",
        f"CTYS_VMPATH={home / 'vms'}",
        f"CTYS_INVENTORY={home / 'inv.sqlite'}",
        f"XDG_CACHE_HOME={home / 'cache'}",
        f"PYTHONPATH={SRC.parent}:{site}",
        "CTYS_ACCEL=tcg",
    ]

    def run(
        *args: str, code: str | None = None, runtime: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        program = ["-c", code] if code is not None else ["-m", "ctys", *args]
        extra = [f"CTYS_RUNTIME_DIR={runtime}"] if runtime else []
        return subprocess.run(
            ["runuser", "-u", user, "--", "env", "-i", *env, *extra, python, *program],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=home,
        )

    return run


def test_another_user_cannot_manage_attach_to_or_cancel_our_vm(
    ctys: Ctys, make_vm: Callable[..., Path], ctys_env: dict[str, str], other_user: str
) -> None:
    make_vm("mine")
    assert ctys("-t", "QEMU", "-a", "CREATE=l:mine,WAIT:guest#", "-b", "1").returncode == 0
    [ours] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
    assert ours["LABEL"] == "mine"
    vmdir = _rundir(ctys_env, "mine")
    home = Path(tempfile.mkdtemp(prefix="ctu", dir="/tmp"))
    try:
        shutil.chown(home, other_user, other_user)
        them = _as_user(other_user, home)

        listed = them("-t", "QEMU", "-a", "LIST=JSON")
        assert listed.returncode == 0, listed.stderr
        [row] = [r for r in json.loads(listed.stdout) if r["PID"] == ours["PID"]]
        assert row["MANAGED"] is False and row["USER"] == "root"

        by_id = them("-t", "QEMU", "-a", f"CANCEL=VMID:{vmdir.name},FORCE")
        assert by_id.returncode == 1 and f"no running VM with ID {vmdir.name}" in by_id.stderr
        by_label = them("-t", "QEMU", "-a", "CANCEL=l:mine,FORCE")
        assert by_label.returncode == 1 and "no VM matches LABEL:mine" in by_label.stderr

        # Pointing ctys at our runtime dir does not help: it is ours and 0700.
        mine = Path(ctys_env["CTYS_RUNTIME_DIR"])
        probe = (
            "import os,socket\n"
            "for p in SOCKETS:\n"
            "    s=socket.socket(socket.AF_UNIX)\n"
            "    try:\n"
            "        s.connect(p); print('connected', p)\n"
            "    except PermissionError: print('denied', p)\n"
            "try:\n"
            f"    os.listdir({str(mine)!r}); print('listed')\n"
            "except PermissionError: print('denied listing')\n"
        )
        sockets = [str(vmdir / name) for name in ("console.sock", "qmp.sock", "vnc.sock")]
        attach = them(code=probe.replace("SOCKETS", repr(sockets)))
        assert attach.stdout.split("\n")[:4] == [
            *(f"denied {sock}" for sock in sockets),
            "denied listing",
        ], attach.stdout + attach.stderr
        # And no TCP port to try instead: the VNC server is on the socket only.
        qemu = psutil.Process(int(ours["PID"]))
        assert [c for c in qemu.net_connections(kind="inet") if c.status == "LISTEN"] == []
        stolen = them("-t", "QEMU", "-a", f"CANCEL=VMID:{vmdir.name},FORCE", runtime=mine)
        assert stolen.returncode == 1
        # (Its parent is closed to them too, so ctys cannot even look at it.)
        assert f"runtime dir {mine}" in stolen.stderr, stolen.stderr
        assert "Permission denied" in stolen.stderr or "not by you" in stolen.stderr
        # Nor can they take its serial console over (CONNECT,FORCE), by label or pointed at it.
        forced = them("-t", "QEMU", "-a", "CREATE=l:mine,CONNECT,FORCE")
        assert forced.returncode == 1, forced.stdout + forced.stderr
        forced = them("-t", "QEMU", "-a", "CREATE=l:mine,CONNECT,FORCE", runtime=mine)
        assert forced.returncode == 1 and f"runtime dir {mine}" in forced.stderr, forced.stderr
        assert "attached" not in forced.stdout
        assert psutil.Process(int(ours["PID"])).is_running()
        [after] = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
        assert after["MANAGED"] is True and after["STATE"] == "running"
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:mine,FORCE").returncode == 0


_RFB_PROBE = """
import socket
s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
version = s.recv(12)
s.sendall(b"RFB 003.008\\n")
count = s.recv(1)[0]
print(version.decode().strip(), list(s.recv(count)) if count else "refused")
"""


@pytest.mark.parametrize("asked_by", ["VNCBIND", "VNCPORT"])
def test_a_tcp_vnc_port_always_asks_for_a_password_and_only_the_owner_has_it(
    ctys: Ctys,
    make_vm: Callable[..., Path],
    ctys_env: dict[str, str],
    short_tmp: Path,
    other_user: str,
    asked_by: str,
) -> None:
    conf = make_vm("tcpvnc")
    if asked_by == "VNCPORT":  # a fixed port from the conf, with a CLI console
        with socket.create_server(("127.0.0.1", 0)) as probe:
            fixed = probe.getsockname()[1]
        conf.write_text(conf.read_text() + f"#@#VNCPORT = {fixed}\n")
        create = "CREATE=l:tcpvnc,CONSOLE:CLI"
    else:
        create = "CREATE=l:tcpvnc,CONSOLE:VNC,VNCBIND:127.0.0.1"
    done = ctys("-t", "QEMU", "-a", create, "-b", "1")
    assert done.returncode == 0, done.stderr
    vmdir = _rundir(ctys_env, "tcpvnc")
    pwfile = vmdir / "vnc.pass"
    secret = pwfile.read_text().strip()
    assert len(secret) == 8 and _mode(pwfile) == 0o600
    # The start line names the file, never the password.
    assert f"password in {pwfile}" in done.stdout and secret not in done.stdout + done.stderr
    listed = ctys("-t", "QEMU", "-a", "LIST=JSON")
    [row] = own_rows(json.loads(listed.stdout), ctys_env["CTYS_RUNTIME_DIR"])
    host, port = str(row["VNC"]).rsplit(":", 1)
    assert host == "127.0.0.1" and secret not in listed.stdout
    if asked_by == "VNCPORT":
        assert int(port) == fixed
    qemu = psutil.Process(int(row["PID"]))
    assert secret not in " ".join(qemu.cmdline()) and "password=on" in " ".join(qemu.cmdline())
    for name in ("state.json", "qemu.log", "console.log"):
        if (vmdir / name).exists():
            assert secret not in (vmdir / name).read_text(errors="replace"), name

    # CONNECT shows it to the owner (who alone can read the runtime folder).
    attach = ctys("-t", "QEMU", "-a", "CREATE=l:tcpvnc,CONSOLE:VNC,CONNECT")
    assert attach.returncode == 0, attach.stderr
    assert attach.stdout.strip() == f"tcpvnc: VNC 127.0.0.1:{port}, password {secret}"

    # Another local user reaches the port but is offered VNC authentication only (2),
    # never "None" (1); and cannot read the password.
    home = Path(tempfile.mkdtemp(prefix="ctu", dir="/tmp"))
    try:
        shutil.chown(home, other_user, other_user)
        them = _as_user(other_user, home)
        rfb = them(code=_RFB_PROBE.replace("PORT", port))
        assert rfb.stdout.strip() == "RFB 003.008 [2]", rfb.stdout + rfb.stderr
        peek = them(code=f"open({str(pwfile)!r}).read()")
        assert peek.returncode != 0 and "PermissionError" in peek.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)

    shot = short_tmp / "tcp.png"
    assert _vncdo(int(port), shot, None).returncode != 0 and not shot.exists()
    right = _vncdo(int(port), shot, secret)
    assert right.returncode == 0, right.stderr
    assert shot.stat().st_size > 0
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:tcpvnc,FORCE").returncode == 0


# --- no shell -----------------------------------------------------------------------------

_SHELL_CALLS = {
    ("os", "system"),
    ("os", "popen"),
    ("subprocess", "getoutput"),
    ("subprocess", "getstatusoutput"),
    ("asyncio", "create_subprocess_shell"),
}


def _shell_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        named = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
        if named and (func.value.id, func.attr) in _SHELL_CALLS:  # type: ignore[union-attr]
            found.append(f"{path}:{node.lineno}: {func.value.id}.{func.attr}")
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                found.append(f"{path}:{node.lineno}: shell={ast.unparse(keyword.value)}")
    return found


def test_no_shell_anywhere_in_ctys() -> None:
    sources = sorted(SRC.rglob("*.py"))
    assert len(sources) > 20
    found = [hit for path in sources for hit in _shell_uses(path)]
    assert found == []
    # The checker finds what it looks for (a test that cannot fail is no test).
    sample = Path(tempfile.mkdtemp()) / "sample.py"
    try:
        sample.write_text("import os, subprocess\nos.system('x')\nsubprocess.run('x', shell=1)\n")
        assert len(_shell_uses(sample)) == 2
    finally:
        shutil.rmtree(sample.parent)
    # Also as plain text: no import alias hides a shell from the syntax check.
    for path in sources:
        text = path.read_text()
        assert "shell=True" not in text and "os.system(" not in text, path
        assert "os.popen(" not in text, path
