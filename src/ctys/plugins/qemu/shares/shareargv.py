"""The transport of each share and the command lines it needs: pure functions of typed
inputs (``plan_shares`` reads the host once: virtiofsd, ``unshare``, root).

virtiofs: one ``virtiofsd`` per share on a UNIX socket in the VM's 0700 runtime folder,
qemu's guest RAM in a shared memfd backend (vhost-user needs the daemon to map it), and a
``vhost-user-fs-pci`` device per share. A read-only share's daemon runs in a private mount
namespace where the folder is a read-only bind mount (Debian 12's virtiofsd has no
read-only option), started through ``unshare`` and ``ctys.plugins.qemu.shares.romount``.

9p: qemu's ``virtio-9p-pci`` on a ``local`` fsdev (``readonly=on`` for ``ro``), no daemon.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ctys.errors import VmError
from ctys.plugins.qemu.shares.shareconf import Share, Transport

#: Where Debian and others install virtiofsd (qemu's C daemon, or the Rust one).
VIRTIOFSD_PATHS = (
    Path("/usr/lib/qemu/virtiofsd"),
    Path("/usr/libexec/virtiofsd"),
    Path("/usr/lib/virtiofsd"),
)
#: ``CTYS_SHARE_TRANSPORT=9p`` (or ``virtiofs``) picks the transport of every share that
#: does not name its own.
TRANSPORT_ENV = "CTYS_SHARE_TRANSPORT"
#: The memory backend's id, shared by ``-object`` and ``-numa``.
MEMORY_ID = "ctysmem"


@dataclass(frozen=True)
class HostShareTools:
    """What the host offers for shares: virtiofsd, ``unshare`` (read-only virtiofs), and
    whether we are root (Debian 12's virtiofsd sandboxes itself in namespaces: root only)."""

    virtiofsd: Path | None
    unshare: Path | None
    root: bool


@dataclass(frozen=True)
class SharePlan:
    """One share and how it reaches the guest."""

    share: Share
    transport: Transport


def host_share_tools(which: Callable[[str], str | None] = shutil.which) -> HostShareTools:
    """Look virtiofsd and ``unshare`` up on this host."""
    found = which("virtiofsd")
    daemon = Path(found) if found else next((p for p in VIRTIOFSD_PATHS if p.is_file()), None)
    unshare = which("unshare")
    return HostShareTools(daemon, Path(unshare) if unshare else None, os.geteuid() == 0)


def virtiofs_missing(share: Share, tools: HostShareTools) -> str | None:
    """Why virtiofs cannot serve ``share`` here, or ``None`` when it can."""
    if tools.virtiofsd is None:
        return "virtiofsd is not installed (Debian: apt-get install qemu-system-common)"
    if not tools.root:
        return "virtiofsd runs as root only (its sandbox needs namespaces)"
    if share.readonly and tools.unshare is None:
        return "a read-only virtiofs share needs unshare (util-linux)"
    return None


def choose_transport(share: Share, tools: HostShareTools, forced: str | None = None) -> Transport:
    """The share's own option, else ``forced`` (``CTYS_SHARE_TRANSPORT``), else virtiofs
    when the host can serve it, else 9p. A share that must use virtiofs but cannot is a
    ``VmError`` saying why."""
    transport = share.transport
    if transport is None and forced:
        try:
            transport = Transport(forced.strip().lower())
        except ValueError:
            raise VmError(f"{TRANSPORT_ENV}={forced!r}: expected 9p or virtiofs") from None
    missing = virtiofs_missing(share, tools)
    if transport is Transport.VIRTIOFS and missing:
        raise VmError(f"{share.key}: virtiofs asked for, but {missing}")
    if transport is not None:
        return transport
    return Transport.NINEP if missing else Transport.VIRTIOFS


def plan_shares(
    shares: Sequence[Share],
    tools: HostShareTools | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[SharePlan, ...]:
    """The transport of every share (the host looked at only when there are shares)."""
    if not shares:
        return ()
    tools = tools or host_share_tools()
    forced = (os.environ if env is None else env).get(TRANSPORT_ENV) or None
    return tuple(SharePlan(s, choose_transport(s, tools, forced)) for s in shares)


def daemon_socket(rundir: Path, share: Share) -> Path:
    """The virtiofsd socket of ``share`` in the VM's runtime folder (short: it is a UNIX
    socket path, shorter than the console's)."""
    return rundir / f"fs{share.index}.sock"


def daemon_pidfile(rundir: Path, share: Share) -> Path:
    return rundir / f"fs{share.index}.pid"


def daemon_log(rundir: Path, share: Share) -> Path:
    return rundir / f"fs{share.index}.log"


def _qemu_escape(value: str) -> str:
    return value.replace(",", ",,")


def _fuse_escape(value: str) -> str:
    # virtiofsd splits its -o options at commas; a backslash keeps one in a path.
    return value.replace("\\", "\\\\").replace(",", "\\,")


def virtiofsd_argv(
    share: Share, rundir: Path, tools: HostShareTools, python: str = sys.executable
) -> list[str]:
    """The command that serves ``share`` (``tools.virtiofsd`` must be set). Read-only:
    ``unshare`` gives it a private mount namespace in which ``romount`` makes the folder a
    read-only bind mount before it runs virtiofsd, so a write fails in the host's kernel
    (EROFS), whatever the guest mounts."""
    if tools.virtiofsd is None:
        raise VmError(f"{share.key}: virtiofsd is not installed")
    daemon = [
        str(tools.virtiofsd),
        f"--socket-path={daemon_socket(rundir, share)}",
        "-o",
        f"source={_fuse_escape(str(share.hostdir))}",
        "-o",
        "cache=auto",
        "-o",
        "sandbox=namespace",
    ]
    if not share.readonly:
        return daemon
    if tools.unshare is None:
        raise VmError(f"{share.key}: a read-only virtiofs share needs unshare (util-linux)")
    launcher = [python, "-m", "ctys.plugins.qemu.shares.romount", str(share.hostdir), "--"]
    return [str(tools.unshare), "--mount", "--propagation", "private", "--", *launcher, *daemon]


def share_args(plans: Sequence[SharePlan], rundir: Path, memsize_mb: int) -> list[str]:
    """qemu's arguments for ``plans``: with a virtiofs share the guest RAM becomes a shared
    memfd backend (one NUMA node), then a device per share in index order."""
    args: list[str] = []
    if any(p.transport is Transport.VIRTIOFS for p in plans):
        args += ["-object", f"memory-backend-memfd,id={MEMORY_ID},size={memsize_mb}M,share=on"]
        args += ["-numa", f"node,memdev={MEMORY_ID}"]
    for plan in plans:
        share = plan.share
        n = share.index
        if plan.transport is Transport.VIRTIOFS:
            sock = _qemu_escape(str(daemon_socket(rundir, share)))
            args += ["-chardev", f"socket,id=fs{n},path={sock}"]
            args += ["-device", f"vhost-user-fs-pci,chardev=fs{n},tag={share.tag}"]
        else:
            opts = [f"local,id=fsdev{n}", f"path={_qemu_escape(str(share.hostdir))}"]
            # none: files keep the host's owners and modes (what a shared folder means);
            # mapped-xattr would hide the guest's owners in xattrs.
            opts.append("security_model=none")
            if share.readonly:
                opts.append("readonly=on")
            args += ["-fsdev", ",".join(opts)]
            args += ["-device", f"virtio-9p-pci,fsdev=fsdev{n},mount_tag={share.tag}"]
    return args
