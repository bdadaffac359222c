"""Layer-2 links between the VDE switches of two hosts (``#@#VDENET = lab@hostB``).

A link joins the local managed switch ``lab`` to the managed switch ``lab`` on an ssh host.
It is one process group, started by the ctys whose VM names the peer::

    dpipe vde_plug <runtime>/vde/lab.ctl = ssh <ctys's ssh options> -- hostB ctys-vdeplug lab ID

``ctys-vdeplug`` (``ctys.plugins.qemu.net.vdeplug``) is the remote end: it starts the switch
``lab`` in the remote user's runtime dir when none runs, plugs ``vde_plug`` into it with the
ssh channel as its stdin/stdout, and when the channel closes it stops that switch unless a
VM there still uses it. ``ID`` is the local switch's random identity (``<name>.id``); the
remote end says its own when it is plugged in. With them two switches linked both ways
(hostA's VM names ``lab@hostB``, hostB's ``lab@hostA``) know that the link coming in is the
twin of their own link going out: neither keeps a switch in use, so both go with their VMs
(and the switches' spanning tree blocks one of the two cables meanwhile). The link's files,
beside its switch's::

    <runtime>/vde/lab@hostB.link      the pid of the link's dpipe (its process group)
    <runtime>/vde/lab@hostB.linklog   what dpipe, vde_plug, ssh and the remote end said

The link lives as long as the local switch: ``ctys.plugins.qemu.net.vde`` starts it with
the switch (CREATE) and stops it first when it stops the switch (CANCEL, orphan sweep); the
link's own plug does not count as a use of the switch.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ctys.errors import CtysError
from ctys.invocation import Target
from ctys.plugins.qemu.net.procfile import live_pid
from ctys.privfile import PRIVATE_FILE
from ctys.remote.ssh import remote_ctys, ssh_host, ssh_options, target_name

REMOTE_HELPER = "ctys-vdeplug"
ENV_REMOTE_VDEPLUG = "CTYS_REMOTE_VDEPLUG"  # the remote end's command, shell words
# The remote end writes this line to its stderr once its vde_plug is in the switch.
READY_MARK = "ctys-vdeplug: plugged in"
LINK_SUFFIX = ".link"
ID_SUFFIX = ".id"
_SWITCH_ID = re.compile(r"[0-9a-f]{32}")
LOG_SUFFIX = ".linklog"
_STOP_TIMEOUT = 5.0
# ssh notices a peer that went away without a word (a host that crashed) within ~30 s.
_KEEPALIVE = ("-o", "ServerAliveInterval=10", "-o", "ServerAliveCountMax=3")


class VdeLinkError(CtysError):
    """A link to another host's switch could not be made."""


def remote_helper(env: Mapping[str, str] | None = None) -> list[str]:
    """The remote end's command: ``$CTYS_REMOTE_VDEPLUG`` split shell-style; else, when
    the remote ctys is one word (``$CTYS_REMOTE_CTYS``: ``/opt/ctys/bin/ctys``), the
    ``ctys-vdeplug`` installed beside it; else ``ctys-vdeplug`` on the remote PATH."""
    environ = os.environ if env is None else env
    words = shlex.split(environ.get(ENV_REMOTE_VDEPLUG, ""))
    if words:
        return words
    ctys = remote_ctys(environ)
    if len(ctys) == 1 and Path(ctys[0]).name == "ctys":
        return [ctys[0] + REMOTE_HELPER[len("ctys") :]]
    return [REMOTE_HELPER]


def link_argv(
    ctl: Path,
    name: str,
    peer: Target,
    origin: str,
    *,
    control_dir: Path | None,
    connect_timeout: float,
    env: Mapping[str, str] | None = None,
    dpipe: str = "dpipe",
    vde_plug: str = "vde_plug",
) -> list[str]:
    """The link's command line (pure). The ssh words are ctys's own for remote targets
    (batch mode, ``$CTYS_SSH_CONFIG``, the shared master connection when one runs, but never
    a new master that would outlive the link); the remote command is one word, every part
    of it shell-quoted."""
    ssh = ssh_options(
        peer,
        user=None,
        connect_timeout=connect_timeout,
        control_dir=control_dir,
        env=env,
        master=False,
    )
    remote = shlex.join([*remote_helper(env), name, origin])
    return [dpipe, vde_plug, str(ctl), "=", *ssh, *_KEEPALIVE, "-T", "--", ssh_host(peer), remote]


def switch_id(directory: Path, name: str) -> str:
    """The random identity of the running switch ``name`` (``<name>.id``, made on first
    use; the caller holds the switch's lock). It goes with the switch's files."""
    path = directory / f"{name}{ID_SUFFIX}"
    with contextlib.suppress(OSError, ValueError):
        return check_switch_id(path.read_text().strip())
    import uuid  # (3.5 ms with platform: only a switch's first start pays for it)

    ident = uuid.uuid4().hex
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w") as out:
        out.write(ident + "\n")
    return ident


def check_switch_id(text: str) -> str:
    """A switch identity: 32 lower-case hex digits (``ValueError`` otherwise)."""
    if not _SWITCH_ID.fullmatch(text):
        raise ValueError(f"not a switch identity: {text!r}")
    return text


def ready_line(ident: str) -> str:
    """What the remote end says once plugged in, with its switch's identity."""
    return f"{READY_MARK} {ident}"


def remote_id(log_text: str) -> str | None:
    """The remote switch's identity from a link's log (its ready line), if it said one."""
    for line in log_text.splitlines():
        head, _, ident = line.strip().rpartition(" ")
        if head == READY_MARK and _SWITCH_ID.fullmatch(ident):
            return ident
    return None


def link_stem(name: str, peer: Target) -> str:
    """The file name stem of a link: ``lab@hostB``, ``lab@bob@hostB`` (``@`` is in no
    switch name, so the switch's name is what comes before the first one)."""
    return f"{name}@{target_name(peer)}"


@dataclass(frozen=True)
class VdeLink:
    """The files of one link of the switch ``name`` in ``directory``."""

    name: str
    stem: str
    directory: Path

    @classmethod
    def of(cls, name: str, peer: Target, directory: Path) -> VdeLink:
        return cls(name, link_stem(name, peer), directory)

    @property
    def peer_text(self) -> str:
        return self.stem.partition("@")[2]

    @property
    def ctl(self) -> Path:
        return self.directory / f"{self.name}.ctl"

    @property
    def pidfile(self) -> Path:
        return self.directory / f"{self.stem}{LINK_SUFFIX}"

    @property
    def log(self) -> Path:
        return self.directory / f"{self.stem}{LOG_SUFFIX}"

    def pid(self) -> int | None:
        """The pid of this link's living dpipe, else ``None`` (a recycled pid is none)."""
        return live_pid(self.pidfile, "dpipe", str(self.ctl))

    def processes(self) -> set[int]:
        """The pids of the link: its dpipe and everything under it (vde_plug, ssh)."""
        import psutil  # loaded by link work only: CREATE without a VDE link skips it

        pid = self.pid()
        if pid is None:
            return set()
        found = {pid}
        with contextlib.suppress(psutil.Error):
            found |= {p.pid for p in psutil.Process(pid).children(recursive=True)}
        return found


def links_of(name: str, directory: Path) -> list[VdeLink]:
    """Every link the switch ``name`` has files for (running or stale)."""
    if not directory.is_dir():
        return []
    stems = {p.name[: -len(LINK_SUFFIX)] for p in directory.glob(f"{name}@*{LINK_SUFFIX}")}
    stems |= {p.name[: -len(LOG_SUFFIX)] for p in directory.glob(f"{name}@*{LOG_SUFFIX}")}
    return [VdeLink(name, stem, directory) for stem in sorted(stems)]


def link_processes(name: str, directory: Path) -> set[int]:
    """The pids of the switch ``name``'s own plugs, which do not make it "in use": every
    running link of it, and every remote end plugged into it by the twin of one of them
    (a link from the very switch one of its links goes to)."""
    found: set[int] = set()
    peers: set[str] = set()
    for link in links_of(name, directory):
        members = link.processes()
        if members:
            found |= members
            peer = remote_id(_log_text(link))
            if peer is not None:
                peers.add(peer)
    if peers:
        for origin, pids in incoming_links(name, directory).items():
            if origin in peers:
                found |= pids
    return found


def incoming_links(name: str, directory: Path) -> dict[str, set[int]]:
    """The remote ends (``ctys-vdeplug NAME ORIGIN``) plugged into the switch ``name`` of
    ``directory``, by the identity of the switch at the other end: each one's pid and its
    vde_plug's."""
    import psutil  # loaded by link work only: CREATE without a VDE link skips it

    ctl = str(directory / f"{name}.ctl")
    found: dict[str, set[int]] = {}
    for proc in psutil.process_iter(["cmdline"], ad_value=None):
        argv = proc.info.get("cmdline") or []
        if not any(Path(word).name == REMOTE_HELPER for word in argv[:2]):
            continue
        if len(argv) < 3 or argv[-2] != name or not _SWITCH_ID.fullmatch(argv[-1]):
            continue
        with contextlib.suppress(psutil.Error):
            plugs = {c.pid for c in proc.children() if ctl in c.cmdline()}
            if plugs:
                found.setdefault(argv[-1], set()).update({proc.pid, *plugs})
    return found


def link_tools() -> tuple[str, str]:
    """The paths of ``dpipe`` and ``vde_plug``; a clear error when vde2 is missing."""
    found = []
    for program in ("dpipe", "vde_plug"):
        path = shutil.which(program)
        if path is None:
            raise VdeLinkError(
                f"a VDE link needs {program}, which is not installed (Debian: apt-get install vde2)"
            )
        found.append(path)
    return found[0], found[1]


def planned_link_argv(
    name: str,
    peer: Target,
    directory: Path,
    origin: str,
    *,
    control_dir: Path | None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """The command line that links the switch ``name`` in ``directory`` to ``peer``, with
    ctys's ssh settings (``$CTYS_CONNECT_TIMEOUT``, the shared connections in
    ``control_dir``); what ``-n`` shows and ``start_link`` runs."""
    from ctys.remote.fanout import RemoteSettings

    return link_argv(
        VdeLink.of(name, peer, directory).ctl,
        name,
        peer,
        origin,
        control_dir=control_dir,
        connect_timeout=RemoteSettings.from_env(env).connect_timeout,
        env=env,
        dpipe=shutil.which("dpipe") or "dpipe",
        vde_plug=shutil.which("vde_plug") or "vde_plug",
    )


def start_link(name: str, peer: Target, directory: Path) -> VdeLink:
    """Start the link of the running switch ``name`` to ``peer`` (the caller holds the
    switch's lock) and wait until the remote end says it is plugged in; on failure the
    link is stopped again and ``VdeLinkError`` says why (the last line ssh or the remote
    end wrote)."""
    from ctys.remote.fanout import RemoteSettings
    from ctys.remote.ssh import default_control_dir

    link_tools()
    link = VdeLink.of(name, peer, directory)
    origin = switch_id(directory, name)
    argv = planned_link_argv(name, peer, directory, origin, control_dir=default_control_dir())
    fd = os.open(link.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        # dpipe makes itself a process group leader (so it must not lead a session: that
        # makes its setpgrp fail): no Ctrl-C at this ctys's terminal reaches the link, and
        # stop_link ends the whole group.
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=fd, close_fds=True
        )
    except OSError as exc:
        raise VdeLinkError(f"VDENET {link.stem}: cannot start the link: {exc}") from exc
    finally:
        os.close(fd)
    fd = os.open(link.pidfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w") as out:
        out.write(f"{proc.pid}\n")
    try:
        _wait_ready(link, proc, RemoteSettings.from_env().connect_timeout + 10.0)
    except BaseException:
        stop_link(link)
        raise
    return link


def _wait_ready(link: VdeLink, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        said = _log_text(link)
        if READY_MARK in said:
            return
        if proc.poll() is not None:
            raise VdeLinkError(f"VDENET {link.stem}: the link failed: {_last_line(said)}")
        if time.monotonic() >= deadline:
            raise VdeLinkError(
                f"VDENET {link.stem}: the remote switch did not answer in {timeout:.0f} s"
            )
        time.sleep(0.05)


def _log_text(link: VdeLink) -> str:
    try:
        return link.log.read_text(errors="replace")
    except OSError:
        return ""


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no message"


def stop_link(link: VdeLink, *, timeout: float = _STOP_TIMEOUT) -> None:
    """Stop a link's process group (SIGTERM, then SIGKILL) and remove its files. The
    remote end sees its ssh channel close and stops its side."""
    import psutil  # loaded by link work only: CREATE without a VDE link skips it

    members = link.processes()
    pid = link.pid()
    if pid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
    procs = []
    for member in members:
        with contextlib.suppress(psutil.Error):
            procs.append(psutil.Process(member))
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    for path in (link.pidfile, link.log):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def stop_links(name: str, directory: Path) -> None:
    """Stop every link of the switch ``name`` (and clear the files of dead ones)."""
    for link in links_of(name, directory):
        stop_link(link)
