"""Real ssh test hosts on loopback: one ``/usr/sbin/sshd`` per host, plus fault hosts.

Each host is a real OpenSSH daemon (``sshd -D -e -f <own sshd_config>``) listening on its own
free port on 127.0.0.1, with its own ed25519 host key and an ``authorized_keys`` holding the
test client key.  That key line sets the host's world through ``environment="..."`` options
(``PermitUserEnvironment CTYS_*,PATH,XDG_*``): its own VM folder(s) (``CTYS_VMPATH``), its own
short runtime dir, inventory and cache, its host name (``CTYS_HOSTNAME``), TCG, and a PATH
with the venv's ``bin`` first.  So one machine plays many hosts, each with its own VMs.
Where ``unshare`` works (root, as in CI) each sshd also runs in its own PID namespace with
its own ``/proc``: a host's process table holds only its own processes, so LIST on hostB does
not find hostA's qemu as an unmanaged VM, as on real separate machines (``isolated``); and
stopping a host kills everything that ran in it.  Opt-in, ``add(..., netns=True)`` (root)
also gives each host its own network namespace on a private LAN (``netlan.py``): its sshd
listens on its LAN address instead of 127.0.0.1, and a host's ssh to another such host
(a VDE link) crosses veths and a bridge as between machines; ``close()`` removes the
namespaces and veths too.

The client side is one ssh config file (``Host <name>`` blocks with port, key, known hosts
file, ``StrictHostKeyChecking yes``); ``remote_env`` points ctys at it (``CTYS_SSH_CONFIG``)
and at the venv's ctys (``CTYS_REMOTE_CTYS``).

Fault hosts, each a name in the same ssh config:

* ``refusing``: a port nobody listens on (connection refused at once).
* ``hanging``: a TCP listener (a thread in this process) that accepts and never says a
  word, so ssh waits for the server banner (OpenSSH's ``ConnectTimeout`` covers the banner
  exchange too: ``Connection timed out during banner exchange``).
* ``stuck``: a real sshd host that accepts the login and then never answers (forced command
  ``exec sleep 3600``): only ctys's own per-target deadline ends that.
* ``noctys``: a real sshd host on which ctys is not installed.  Its key line carries the
  forced command ``PATH=/usr/bin:/bin; ctys``: whatever command the client asks for, the
  remote login shell runs ``ctys`` on a PATH without it and fails exactly as on a host
  without ctys (``bash: line 1: ctys: command not found``, exit status 127).  A forced command
  is used because ctys calls the remote ctys by the absolute path the client chooses
  (``CTYS_REMOTE_CTYS``), which the server side cannot otherwise make disappear.

Used by the e2e fixture ``ssh_hosts`` and by ``bench/fanout.py``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from netlan import NetLan

from support.procs import kill_qemus, kill_switches

SSHD = Path("/usr/sbin/sshd")
PRIVSEP_DIR = Path("/run/sshd")
READY_TIMEOUT = 20.0
NOCTYS_COMMAND = "PATH=/usr/bin:/bin; ctys"
STUCK_COMMAND = "exec sleep 3600"
UNSHARE = ("unshare", "--pid", "--fork", "--mount-proc", "--kill-child")


@dataclass(frozen=True)
class SshHost:
    """One test host as the client sees it (``name`` in the ssh config) and its own dirs."""

    name: str
    port: int
    home: Path  # the host's private dir (keys, sshd_config, log)
    vmpath: tuple[Path, ...] = ()  # its CTYS_VMPATH; vmpath[0] is its own VM folder
    runtime: Path | None = None  # its CTYS_RUNTIME_DIR
    inventory: Path | None = None  # its CTYS_INVENTORY
    address: str = "127.0.0.1"  # where its sshd listens
    netns: str | None = None  # its own network namespace (``add(..., netns=True)``)

    @property
    def vms(self) -> Path:
        """The host's own VM folder."""
        return self.vmpath[0]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def host_names(count: int, start: int = 0) -> list[str]:
    """``hostA``, ``hostB``, ... ``hostZ``, then ``host27``, ``host28``, ..."""
    names = []
    for i in range(start, start + count):
        names.append(f"host{chr(ord('A') + i)}" if i < 26 else f"host{i + 1}")
    return names


def _quote_option(value: str) -> str:
    """A value inside an ``authorized_keys`` option's double quotes."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


class _Hanging:
    """A listener that accepts TCP connections and never sends anything."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="ssh-hanging", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted.append(conn)  # kept open, never written to

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


class SshHosts:
    """A set of ssh test hosts under one private temp dir; ``close()`` removes everything.

    ``add(n)`` starts ``n`` real sshd hosts; ``refusing()``, ``hanging()`` and ``noctys()``
    add the fault hosts.  ``config`` is the client's ssh config, ``remote_env`` the
    environment for a local ctys that should reach them.
    """

    def __init__(self, ctys_bin: Path | None = None, base: Path | None = None) -> None:
        self.bin_dir = Path(os.path.abspath(sys.executable)).parent
        self.ctys_bin = ctys_bin or self.bin_dir / "ctys"
        # Short path: the hosts' runtime dirs hold UNIX sockets (108-byte limit).
        self.base = base or Path(tempfile.mkdtemp(prefix="cs", dir="/tmp"))
        self.user = pwd.getpwuid(os.getuid()).pw_name
        self.config = self.base / "ssh_config"
        self.known_hosts = self.base / "known_hosts"
        self.client_key = self.base / "id_ed25519"
        self.hosts: dict[str, SshHost] = {}
        self._entries: dict[str, tuple[str, int]] = {}  # name -> (address, port)
        self._host_keys: dict[str, list[str]] = {}
        self._sshd: dict[str, subprocess.Popen[bytes]] = {}
        self._hanging: list[_Hanging] = []
        self.lan: NetLan | None = None  # the hosts' LAN, made by the first netns host
        self._count = 0
        _ensure_privsep_dir()
        self.isolated = pid_namespaces_work()
        _keygen(self.client_key, "ctys-test-client")
        self.known_hosts.touch()
        self._write_config()

    # --- environment for the local ctys ----------------------------------------------------

    @property
    def remote_env(self) -> dict[str, str]:
        """What a local ctys needs to reach these hosts."""
        return {
            "CTYS_SSH_CONFIG": str(self.config),
            "CTYS_REMOTE_CTYS": str(self.ctys_bin),
        }

    def ssh_argv(self, name: str, *command: str) -> list[str]:
        """``ssh -F <config> <name> -- command...`` (BatchMode: never a prompt)."""
        return ["ssh", "-F", str(self.config), "-o", "BatchMode=yes", name, "--", *command]

    # --- hosts -----------------------------------------------------------------------------

    def add(
        self,
        count: int = 1,
        *,
        shared: tuple[Path, ...] = (),
        names: list[str] | None = None,
        wait: bool = True,
        reach_peers: bool = False,
        netns: bool = False,
    ) -> list[SshHost]:
        """Start ``count`` sshd hosts (``hostA``, ``hostB``, ... continuing the sequence).
        Every host's CTYS_VMPATH is its own VM folder followed by the ``shared`` folders.
        With ``reach_peers`` a ctys on the host reaches the other hosts by name over ssh
        (its ``CTYS_SSH_CONFIG`` is the client's ssh config), as a VDE link needs.
        With ``netns`` (root only) each host also gets its own network namespace on a
        private LAN (``netlan.py``): its sshd listens on its LAN address, and what the
        host's processes open to another such host goes over veths and a bridge, not
        over loopback."""
        names = names or host_names(count, self._count)
        self._count += len(names)
        extra = {"CTYS_SSH_CONFIG": str(self.config)} if reach_peers else {}
        hosts = [self._start(name, shared=shared, extra_env=extra, netns=netns) for name in names]
        if wait:
            self.wait_ready([h.name for h in hosts])
        return hosts

    def __call__(self, count: int = 1, *, shared: tuple[Path, ...] = ()) -> list[SshHost]:
        """``ssh_hosts(n)``: the same as ``add(n)``."""
        return self.add(count, shared=shared)

    def noctys(self, name: str = "noctys") -> SshHost:
        """A real sshd host without ctys (see the module docstring)."""
        host = self._start(name, forced_command=NOCTYS_COMMAND)
        self.wait_ready([name], probe=False)
        return host

    def stuck(self, name: str = "stuck") -> SshHost:
        """A real sshd host that logs in and then never answers: its forced command sleeps.
        Only ctys's own per-target deadline gets it unstuck."""
        host = self._start(name, forced_command=STUCK_COMMAND)
        self.wait_ready([name], probe=False)
        return host

    def refusing(self, name: str = "refusing") -> str:
        """A name whose port has nothing listening: connection refused."""
        self._entries[name] = ("127.0.0.1", free_port())
        self._write_config()
        return name

    def hanging(self, name: str = "hanging") -> str:
        """A name whose port accepts TCP and then stays silent forever."""
        listener = _Hanging()
        self._hanging.append(listener)
        self._entries[name] = ("127.0.0.1", listener.port)
        self._write_config()
        return name

    def _start(
        self,
        name: str,
        *,
        shared: tuple[Path, ...] = (),
        forced_command: str | None = None,
        extra_env: dict[str, str] | None = None,
        netns: bool = False,
    ) -> SshHost:
        home = self.base / name
        home.mkdir(mode=0o700)
        vms = home / "vms"
        vms.mkdir()
        runtime = home / "rt"
        namespace, address = None, "127.0.0.1"
        if netns:
            if self.lan is None:
                self.lan = NetLan()
            namespace, address = self.lan.host()
        host = SshHost(
            name=name,
            port=free_port(),
            home=home,
            vmpath=(vms, *shared),
            runtime=runtime,
            inventory=home / "inventory.sqlite",
            address=address,
            netns=namespace,
        )
        host_key = home / "ssh_host_ed25519_key"
        _keygen(host_key, name)
        env = {
            "CTYS_VMPATH": ":".join(str(p) for p in host.vmpath),
            "CTYS_RUNTIME_DIR": str(runtime),
            "CTYS_INVENTORY": str(host.inventory),
            "CTYS_HOSTNAME": name,
            "CTYS_ACCEL": "tcg",
            "XDG_CACHE_HOME": str(home / "cache"),
            "PATH": f"{self.bin_dir}:/usr/bin:/bin",
            **(extra_env or {}),
        }
        options = [f'environment="{_quote_option(f"{k}={v}")}"' for k, v in env.items()]
        if forced_command is not None:
            options.insert(0, f'command="{_quote_option(forced_command)}"')
        pub = Path(f"{self.client_key}.pub").read_text().strip()
        (home / "authorized_keys").write_text(f"{','.join(options)} {pub}\n")
        (home / "sshd_config").write_text(
            "\n".join(
                [
                    f"Port {host.port}",
                    f"ListenAddress {address}",
                    f"HostKey {host_key}",
                    f"PidFile {home / 'sshd.pid'}",
                    f"AuthorizedKeysFile {home / 'authorized_keys'}",
                    "StrictModes no",  # the files live in a temp dir
                    "UsePAM no",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin prohibit-password",
                    f"AllowUsers {self.user}",
                    "PermitUserEnvironment CTYS_*,PATH,XDG_*",
                    "PrintMotd no",
                    "PrintLastLog no",
                    "UseDNS no",
                    # Fan-out benchmarks open many sessions at once; do not drop any.
                    "MaxStartups 200",
                    "MaxSessions 200",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        self._host_keys[name] = Path(f"{host_key}.pub").read_text().split()[:2]
        log = (home / "sshd.log").open("wb")
        argv = [str(SSHD), "-D", "-e", "-f", str(home / "sshd_config")]
        if self.isolated:
            # Its own process table: a host's LIST must not see the other hosts' qemus.
            # --kill-child: when unshare dies, sshd (pid 1 there) and all its processes die.
            argv = [*UNSHARE, *argv]
        if namespace is not None:
            argv = [*NetLan.exec_argv(namespace), *argv]
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self._sshd[name] = proc
        self.hosts[name] = host
        self._entries[name] = (address, host.port)
        self._write_config()
        return host

    def wait_ready(self, names: list[str], *, probe: bool = True) -> None:
        """Wait until ``ssh <name> true`` works for every name (or, with ``probe=False``,
        until the sshd answers with its banner); raise with the sshd log on the deadline."""
        deadline = time.monotonic() + READY_TIMEOUT
        pending = list(names)
        last = ""
        while pending:
            name = pending[0]
            proc = self._sshd[name]
            if proc.poll() is not None:
                raise RuntimeError(f"sshd of {name} exited {proc.returncode}: {self.log(name)}")
            if probe:
                done = subprocess.run(
                    [*self.ssh_argv(name, "true")], capture_output=True, text=True,
                    timeout=10, check=False, stdin=subprocess.DEVNULL,
                )  # fmt: skip
                ok, last = done.returncode == 0, done.stderr
            else:
                ok = _banner(self.hosts[name].address, self.hosts[name].port)
            if ok:
                pending.pop(0)
                continue
            if time.monotonic() > deadline:
                raise RuntimeError(f"ssh test host {name} not ready: {last} {self.log(name)}")
            time.sleep(0.05)

    def server_cpu(self) -> float:
        """CPU seconds used so far by everything the sshd hosts ran for their clients
        (connections, shells, remote ctys): the sshd listeners' reaped children plus every
        live process under them (a ControlMaster connection lives on for a while)."""
        total = 0.0
        for proc in self._sshd.values():
            try:
                top = psutil.Process(proc.pid)
                # Isolated: Popen started unshare; the sshd listener is its one child
                # (in a netns, ``ip netns exec`` execs unshare: the same process).
                listeners = top.children() if self.isolated else [top]
            except psutil.Error:
                continue
            for listener in listeners:
                total += _tree_cpu(listener)
        return total

    def log(self, name: str) -> str:
        """The tail of a host's sshd log (for failure messages)."""
        with contextlib.suppress(OSError):
            return (self.base / name / "sshd.log").read_text(errors="replace")[-2000:]
        return ""

    def _write_config(self) -> None:
        """Rewrite the client's ssh config and known hosts file from the entries."""
        blocks = []
        for name, (address, port) in self._entries.items():
            blocks.append(
                "\n".join(
                    [
                        f"Host {name}",
                        f"    HostName {address}",
                        f"    Port {port}",
                        f"    User {self.user}",
                        f"    IdentityFile {self.client_key}",
                        "    IdentitiesOnly yes",
                        f"    UserKnownHostsFile {self.known_hosts}",
                        "    GlobalKnownHostsFile /dev/null",
                        f"    HostKeyAlias {name}",
                        "    StrictHostKeyChecking yes",
                        "    BatchMode yes",
                        "    LogLevel ERROR",
                        "",
                    ]
                )
            )
        _write_atomic(self.config, "\n".join(blocks))
        known = [f"{name} {' '.join(key)}" for name, key in self._host_keys.items()]
        _write_atomic(self.known_hosts, "\n".join(known) + "\n")

    # --- teardown --------------------------------------------------------------------------

    def close(self) -> None:
        """Kill the hosts' qemus, VDE switches and sshds (and their session processes),
        drop every file; then the network namespaces and veths (once nothing runs in them)."""
        try:
            for host in self.hosts.values():
                if host.runtime is not None:
                    kill_qemus(str(host.runtime))
                    kill_switches(str(host.runtime))
            for proc in self._sshd.values():
                _stop_tree(proc)
            for listener in self._hanging:
                listener.close()
        finally:
            if self.lan is not None:
                self.lan.close()
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> SshHosts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- helpers -------------------------------------------------------------------------------


def pid_namespaces_work() -> bool:
    """True when ``unshare`` can give a process its own PID namespace and /proc (root)."""
    if shutil.which("unshare") is None:
        return False
    try:
        done = subprocess.run(
            [*UNSHARE, "sh", "-c", "test $$ = 1"],
            capture_output=True, timeout=10, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _tree_cpu(root: psutil.Process) -> float:
    """CPU seconds of ``root``'s reaped children and of every live descendant (own and
    reaped children), i.e. all work done under ``root`` except its own."""
    total = 0.0
    with contextlib.suppress(psutil.Error):
        times = root.cpu_times()
        total += times.children_user + times.children_system
        for child in root.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                t = child.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
    return total


def _stop_tree(proc: subprocess.Popen[bytes]) -> None:
    """Terminate sshd and its per-connection children (they run in their own sessions)."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    for p in [*children]:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    _, alive = psutil.wait_procs(children, timeout=3)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()


def _keygen(path: Path, comment: str) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _ensure_privsep_dir() -> None:
    """sshd running as root refuses to start without its privilege separation dir."""
    if os.getuid() == 0 and not PRIVSEP_DIR.is_dir():
        PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)


def _banner(address: str, port: int) -> bool:
    """True when something on ``address:port`` sends an SSH banner."""
    try:
        with socket.create_connection((address, port), timeout=1) as sock:
            sock.settimeout(2)
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.tmp")
    partial.write_text(text)
    partial.replace(path)
