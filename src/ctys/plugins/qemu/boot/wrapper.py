"""The call of a VM's own wrapper script (``CREATE=…,WRAPPER``), in the original's interface.

The original's QEMU plugin ran ``NAME.sh`` (01.11) or ``NAME.ctys`` (01.07) as::

    WRAPPER --console=<SDL|CLI|VNC|NONE> --vncaccessdisplay=<N>
            [--bootmode=<mode>[%<path>] | --instmode=<src>%<path>%<tgt>%<path>%<stage>]
            [--kernelmode=<kernel>[%<initrd>[%<append>]]] [--argsadd="<qemu args>"] [--check]

first with ``--check`` (the wrapper checks and prints, runs nothing), then without. The
template's wrapper appends ``--argsadd`` to the qemu call it evaluates (word-split by the
shell), so ctys passes its own monitor socket there. Everything here is pure: argv lists.
"""

from __future__ import annotations

import os
import shlex
import stat
from dataclasses import dataclass
from pathlib import Path

from ctys.consoles.kinds import ConsoleKind
from ctys.errors import VmError
from ctys.plugins.qemu.boot.argv import qemu_escape
from ctys.plugins.qemu.boot.bootspec import BootSpec, KernelSpec
from ctys.plugins.qemu.boot.instmode import InstallSpec

# A line ctys-createConfVM writes into the 01.11 wrappers it makes: such a wrapper only
# calls ctys again, so CREATE=…,WRAPPER boots the VM from its conf instead (no recursion).
CTYS_WRAPPER_MARK = "# ctys-wrapper: runs ctys"


def wrapper_console(kind: ConsoleKind) -> str:
    """``--console=`` for ``kind`` as the original mapped it: the terminal consoles (XTERM,
    GTERM, EMACS*) are the wrapper's CLI (the serial console ctys then opens)."""
    name: str = kind.value
    return name if name in ("SDL", "VNC", "NONE") else "CLI"


def _mode_text(spec: BootSpec) -> str:
    return spec.mode.value + (f"%{spec.path}" if spec.path is not None else "")


def install_text(spec: InstallSpec) -> str:
    """``--instmode=`` value: ``SRC%SRCPATH%TGT%TGTPATH%STAGE`` (empty paths = the conf's)."""

    def path(p: Path | None) -> str:
        return "" if p is None else str(p)

    src, tgt = spec.source, spec.target
    return "%".join((src.mode.value, path(src.path), tgt.mode.value, path(tgt.path), spec.action))


def kernel_text(spec: KernelSpec) -> str:
    """``--kernelmode=`` value: ``KERNEL[%INITRD[%APPEND]]``."""
    parts = [str(spec.kernel)]
    if spec.initrd is not None or spec.append is not None:
        parts.append("" if spec.initrd is None else str(spec.initrd))
    if spec.append is not None:
        parts.append(spec.append)
    return "%".join(parts)


def serial_args(console: Path, log: Path) -> list[str]:
    """The serial console on ctys's socket, for the consoles ctys attaches to (CLI, XTERM…)."""
    sock, logfile = qemu_escape(str(console)), qemu_escape(str(log))
    return [
        "-chardev",
        f"socket,id=ctysser0,path={sock},server=on,wait=off,logfile={logfile}",
        "-serial",
        "chardev:ctysser0",
    ]


@dataclass(frozen=True)
class WrapperCall:
    """One wrapper run: the script, the options of its interface, and the qemu words ctys
    wants in its ``--argsadd``."""

    script: Path
    console: ConsoleKind
    vnc_display: int
    boot: BootSpec | None = None
    install: InstallSpec | None = None
    kernel: KernelSpec | None = None
    argsadd: tuple[str, ...] = ()

    def argv(self, *, check: bool = False) -> list[str]:
        """The argv list (never a shell string): ``--check`` last, as the original called
        it. ``--argsadd`` is one word the wrapper's shell splits again, so each qemu word
        is shell-quoted in it."""
        argv = [
            str(self.script),
            f"--console={wrapper_console(self.console)}",
            f"--vncaccessdisplay={self.vnc_display}",
        ]
        if self.install is not None:
            argv.append(f"--instmode={install_text(self.install)}")
        elif self.boot is not None:
            argv.append(f"--bootmode={_mode_text(self.boot)}")
        if self.kernel is not None:
            argv.append(f"--kernelmode={kernel_text(self.kernel)}")
        if self.argsadd:
            argv.append(f"--argsadd={shlex.join(self.argsadd)}")
        if check:
            argv.append("--check")
        return argv


def check_wrapper_owner(path: Path, uid: int | None = None) -> None:
    """A script ctys runs must be the caller's own and writable by nobody else, nor its
    folder: else one ``VmError`` naming it. (The wrapper sources the VM's conf, which is
    checked alike.)"""
    uid = os.getuid() if uid is None else uid
    try:
        info = path.stat()
    except OSError as err:
        raise VmError(f"wrapper {path}: {err.strerror or err}") from None
    if not stat.S_ISREG(info.st_mode):
        raise VmError(f"wrapper {path} is not a regular file")
    if info.st_uid != uid:
        raise VmError(f"wrapper {path} is not owned by you (uid {info.st_uid}); not run")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise VmError(
            f"wrapper {path} is writable by group or others (mode {stat.S_IMODE(info.st_mode):o});"
            " not run (chmod go-w)"
        )
    folder = path.parent.stat()
    # Others who may write the folder may swap the script between this check and its run
    # (a sticky folder, like /tmp, lets them remove only their own files).
    if folder.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not folder.st_mode & stat.S_ISVTX:
        raise VmError(
            f"wrapper {path}: its folder is writable by group or others (mode"
            f" {stat.S_IMODE(folder.st_mode):o}); not run"
        )


def is_ctys_wrapper(text: str) -> bool:
    """Whether a wrapper's text is one ctys-createConfVM wrote (it calls ctys again)."""
    return CTYS_WRAPPER_MARK in text
