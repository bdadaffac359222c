"""``-L CONNECTIONFORWARDING`` (``CF``): the server runs on the target, the client here.

For an action whose plugin says it has a client (``Plugin.forwarding``, e.g. CREATE) on a
remote target, the target starts the session as the server alone (``-L SERVERONLY``: no
viewer there); then ctys asks the target where its server listens (the plugin's query, JSON
rows, and its pick: a VNC server, or a serial console), opens an ssh tunnel from a
private UNIX socket here to it (``ssh -N -L``), runs the VNC client (or attaches this
terminal to the console) here on the socket and closes the tunnel when the client ends (or
ctys is interrupted). The socket sits in a 0700 folder of the caller's runtime
dir, so no other local user can reach the VM's screen through it.

The client is ``$CTYS_VNCVIEWER`` (shell words; the socket path is appended) when set,
else the VNC viewer ctys finds (``ctys.consoles.launchers``).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ctys.errors import CtysError
from ctys.invocation import Invocation, Target
from ctys.remote.options import target_invocation
from ctys.remote.ssh import default_control_dir, ssh_argv, ssh_host, ssh_options, target_name

if TYPE_CHECKING:
    from ctys.plugins.base import Forwarding
    from ctys.remote.fanout import RemoteSettings

__all__ = [
    "ENV_VNCVIEWER",
    "VncEndpoint",
    "forward_spec",
    "parse_vnc_endpoint",
    "run_forwarded",
    "tunnel_argv",
]

ENV_VNCVIEWER = "CTYS_VNCVIEWER"
_WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - parsed, never bound
_SOCKET_WAIT_SECONDS = 15.0

ArgsFor = Callable[[Invocation, Target], list[str]]


# --- pure parts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VncEndpoint:
    """Where a VNC server listens on its host: a UNIX socket, or a TCP host and port."""

    unix_path: str | None = None
    host: str = "127.0.0.1"
    port: int | None = None


def parse_vnc_endpoint(text: str) -> VncEndpoint:
    """A LIST row's VNC column: ``unix:/path``, ``host:port``, ``[v6]:port`` or
    ``host:port-last`` (a range: the first port). A wildcard host (the server listens on
    every address) is reached on the loopback. ``CtysError`` for anything else."""
    if text.startswith("unix:") and len(text) > len("unix:"):
        return VncEndpoint(unix_path=text[len("unix:") :])
    host, sep, port_text = text.rpartition(":")
    port_text = port_text.split("-", 1)[0]
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise CtysError(f"cannot forward the VNC server '{text}': not unix:PATH or HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host in _WILDCARD_HOSTS:
        host = "127.0.0.1"
    return VncEndpoint(host=host, port=int(port_text))


def forward_spec(local_socket: Path, endpoint: VncEndpoint) -> str:
    """The ``ssh -L`` argument from ``local_socket`` to ``endpoint`` on the far side."""
    if endpoint.unix_path is not None:
        return f"{local_socket}:{endpoint.unix_path}"
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    return f"{local_socket}:{host}:{endpoint.port}"


def tunnel_argv(
    target: Target,
    forward: str,
    *,
    user: str | None,
    connect_timeout: float,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """``ssh -N`` holding one forward open: fails at once if it cannot bind (no silent
    tunnel-less session), the local socket made private (mask 0177) and replaced if stale.
    No shared master connection: the tunnel's lifetime is this process's."""
    argv = ssh_options(
        target, user=user, connect_timeout=connect_timeout, control_dir=None, env=env
    )
    return [
        *argv,
        "-N",
        "-T",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "StreamLocalBindUnlink=yes",
        "-o",
        "StreamLocalBindMask=0177",
        "-L",
        forward,
        "--",
        ssh_host(target),
    ]


# --- the session ----------------------------------------------------------------------------


def run_forwarded(
    invocation: Invocation,
    out: TextIO,
    err: TextIO,
    settings: RemoteSettings,
    argv_for: Callable[[Invocation, Target], list[str]],
    forwarding: Forwarding,
) -> int:
    """``-L CF``: each target in turn: its action (server only on a remote target), then
    a client here through a tunnel that ends with the client. The worst status wins."""
    from ctys.remote.fanout import run_on_targets
    from ctys.remote.merge import report_streams

    status = 0
    for target in invocation.targets:
        (result,) = run_on_targets(
            [target], lambda t: argv_for(invocation, t), timeout=settings.timeout
        )
        report_streams(result, out, err, debug=invocation.debug)
        status = max(status, result.returncode)
        if not result.ok or target.is_local:  # a local target opened its own client
            continue
        try:
            _client_through_tunnel(invocation, target, err, settings, forwarding)
        except CtysError as exc:
            print(f"ctys: {target_name(target)}: {exc}", file=err)
            status = max(status, 1)
    return status


def _client_through_tunnel(
    invocation: Invocation,
    target: Target,
    err: TextIO,
    settings: RemoteSettings,
    forwarding: Forwarding,
) -> None:
    own = target_invocation(invocation, target)
    call = own.action
    assert call is not None  # dispatch forwards only an action
    found = forwarding.endpoint(call, _target_rows(own, target, settings, forwarding))
    serial = found.serial
    endpoint = VncEndpoint(unix_path=found.address) if serial else parse_vnc_endpoint(found.address)
    shown = f"console {found.address}" if serial else f"VNC {found.address}"
    with _tunnel(
        target, endpoint, own, settings, "console.sock" if serial else "vnc.sock"
    ) as local:
        print(
            f"ctys: {target_name(target)}: {found.label}: {shown} forwarded to {local}"
            " (closed when the client ends)",
            file=err,
            flush=True,
        )
        if serial:
            from ctys.consoles.serial import attach_serial

            attach_serial(local, label=found.label)
            return
        code = subprocess.run(_client_argv(local, own, found.label), check=False).returncode
    if code != 0:
        raise CtysError(f"-L CF: the VNC client ended with status {code}")


def _target_rows(
    own: Invocation, target: Target, settings: RemoteSettings, forwarding: Forwarding
) -> list[dict[str, object]]:
    """The target's JSON rows of its running sessions (``Forwarding.query_args``)."""
    call = own.action
    assert call is not None
    types = ["-t", own.plugin_types[0]] if len(own.plugin_types) == 1 else []
    argv = ssh_argv(
        target,
        [*types, *forwarding.query_args(call)],
        user=own.remote_user,
        pty=False,
        connect_timeout=settings.connect_timeout,
        control_dir=default_control_dir(),
        forward_agent=own.forward_agent,
    )
    from ctys.remote.fanout import run_on_targets
    from ctys.remote.merge import json_rows

    (result,) = run_on_targets([target], lambda _t: argv, timeout=settings.timeout)
    if not result.ok:
        why = result.error or result.stderr.strip()
        raise CtysError(f"-L CF: cannot list the target's sessions: {why}")
    return json_rows(result)


@contextlib.contextmanager
def _tunnel(
    target: Target,
    endpoint: VncEndpoint,
    own: Invocation,
    settings: RemoteSettings,
    name: str,
) -> Iterator[Path]:
    """A private local socket ``name`` forwarded to ``endpoint`` while the block runs."""
    from ctys.rundir import ensure_private_dir, runtime_root

    base = runtime_root() / "tunnels"
    ensure_private_dir(base)
    folder = Path(tempfile.mkdtemp(prefix="cf-", dir=base))  # 0700, a name of its own
    local = folder / name
    argv = tunnel_argv(
        target,
        forward_spec(local, endpoint),
        user=own.remote_user,
        connect_timeout=settings.connect_timeout,
    )
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _wait_for_socket(proc, local, settings.connect_timeout + _SOCKET_WAIT_SECONDS)
        yield local
    finally:
        _stop(proc)
        # The folder is this session's alone (the socket, a console's lock file).
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_socket(proc: subprocess.Popen[bytes], local: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not local.is_socket():
        if proc.poll() is not None:
            detail = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
            last = detail.splitlines()[-1] if detail else f"exit {proc.returncode}"
            raise CtysError(f"-L CF: the ssh tunnel did not open: {last}")
        if time.monotonic() > deadline:
            raise CtysError(f"-L CF: the ssh tunnel did not open within {timeout:g}s")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()


def _client_argv(local: Path, own: Invocation, label: str) -> list[str]:
    """``$CTYS_VNCVIEWER`` with the socket appended, else the VNC viewer ctys finds."""
    words = shlex.split(os.environ.get(ENV_VNCVIEWER, ""))
    if words:
        return [*words, str(local)]
    from ctys.consoles.kinds import ConsoleKind
    from ctys.consoles.launchers import console_argv, parse_geometry
    from ctys.consoles.xlayout import screen_geometry

    text = own.geometry
    if text and own.geometry_screen:  # the screen of this host, where the viewer runs
        text = screen_geometry(text, own.geometry_screen) or text
    geometry = parse_geometry(text) if text else None
    return console_argv(
        ConsoleKind.VNC,
        label=label,
        vmid="",
        session_type=own.plugin_types[0] if own.plugin_types else "",
        vnc_socket=str(local),
        geometry=geometry,
    )
