"""Clone a QEMU VM folder: the new folder is built in a temporary folder beside the target
and renamed into place at the end, so an error or Ctrl-C leaves nothing behind.

The conf is rewritten as data (``clone.rewrite``); the disks are linked (a qcow2 overlay
backed by the source disk) or copied (``qemu-img convert``, sparse); a 01.07/01.11 wrapper
is written anew for the new label; the clone's rows go into the inventory as ENUMERATE
stores a found VM.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid as uuidlib
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from ctys.conf.parser import read_conf_text
from ctys.errors import CommandError, CtysError, VmError
from ctys.inventory.multihome import records_per_address
from ctys.inventory.settings import scanner_ids, this_host
from ctys.plugins.qemu.actions.find_running import foreign_instance
from ctys.plugins.qemu.boot.argv import disk_format
from ctys.plugins.qemu.boot.instmode import run_qemu_img
from ctys.plugins.qemu.clone.imgargv import full_argv, info_argv, linked_argv
from ctys.plugins.qemu.clone.rewrite import NewIdentity, rewrite_conf, sources_of
from ctys.plugins.qemu.confs.mapping import load_vm_config
from ctys.plugins.qemu.confs.reader import found_of
from ctys.plugins.qemu.newconf.layout import Layout, render_wrapper
from ctys.plugins.qemu.newconf.newvm import random_mac
from ctys.plugins.qemu.vmconfig import VmConfig


class CloneMode(Enum):
    """``linked``: qcow2 overlays on the source disks; ``full``: independent copies."""

    LINKED = "linked"
    FULL = "full"


@dataclass(frozen=True)
class CloneRequest:
    """A clone of the VM whose conf is ``source`` into ``directory`` as ``label``."""

    source: Path
    label: str
    directory: Path
    mode: CloneMode = CloneMode.FULL
    snapshot: str | None = None  # clone this internal snapshot (full copies only)
    uuid: str | None = None  # None: a fresh one
    mac: str | None = None  # the first NIC's MAC; None (and every other NIC): fresh ones
    inventory: Path | None = None  # None: leave the inventory alone


@dataclass(frozen=True)
class ClonedVm:
    """What was made."""

    label: str
    directory: Path
    conf: Path
    uuid: str
    macs: dict[str, str]
    disks: tuple[Path, ...]
    backing: tuple[Path, ...]  # linked: each disk's backing file


def clone_vm(req: CloneRequest) -> ClonedVm:
    """Make the clone ``req`` asks for; ``CtysError`` (one line) for every refusal."""
    source = req.source.absolute()
    try:
        text = read_conf_text(source)
    except OSError as err:
        raise CtysError(f"cannot read {source}: {err.strerror or err}") from err
    vm = load_vm_config(source)
    _refuse_running(vm, req)
    target = req.directory.absolute()
    if target.exists() or target.is_symlink():
        raise CtysError(f"target folder {target} exists already")
    if not target.parent.is_dir():
        raise CtysError(f"no folder {target.parent} to create the clone in")
    sources = sources_of(text, source)
    conf_name = req.label + source.suffix
    build = _mkdtemp(target, req.label)
    try:
        disk_names: dict[str, str] = {}
        made: list[Path] = []
        backing: list[Path] = []
        for name, _value, _line, path in sources.disks:
            new_name = _disk_name(path, vm, req)
            disk_names[name] = new_name
            fmt = _probe(path, req)
            if req.mode is CloneMode.LINKED:
                run_qemu_img(linked_argv(path, fmt, build / new_name))
                backing.append(path)
            else:
                out_fmt = disk_format(Path(new_name)) or fmt
                run_qemu_img(full_argv(path, fmt, build / new_name, out_fmt, req.snapshot))
            made.append(target / new_name)
        macs = _new_macs([_bare(n) for n, _v, _l in sources.macs], req.mac)
        new = NewIdentity(req.label, req.uuid or str(uuidlib.uuid4()), macs, disk_names)
        (build / conf_name).write_text(rewrite_conf(text, source, new))
        layout = _layout(vm)
        if layout is not None and layout.wrapper_suffix:
            wrapper = build / (req.label + layout.wrapper_suffix)
            wrapper.write_text(render_wrapper(req.label, conf_name, layout))
            wrapper.chmod(0o755)
        build.chmod(0o755)  # mkdtemp made it private; a VM folder is an ordinary folder
        build.rename(target)
    except CommandError as err:
        shutil.rmtree(build, ignore_errors=True)
        raise VmError(f"qemu-img failed: {err}") from None
    except OSError as err:
        shutil.rmtree(build, ignore_errors=True)
        raise CtysError(f"cannot write the clone in {build}: {err.strerror or err}") from err
    except BaseException:  # any refusal, Ctrl-C: nothing half-written is left
        shutil.rmtree(build, ignore_errors=True)
        raise
    cloned = ClonedVm(
        req.label, target, target / conf_name, new.uuid, dict(macs), tuple(made), tuple(backing)
    )
    if req.inventory is not None:
        store_in_inventory(req.inventory, cloned.conf)
    return cloned


def _bare(name: str) -> str:
    return name.removeprefix("#@#")


def _mkdtemp(target: Path, label: str) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=f".{label}.clone-", dir=target.parent))
    except OSError as err:
        raise CtysError(f"cannot create a folder in {target.parent}: {err.strerror}") from err


def _refuse_running(vm: VmConfig, req: CloneRequest) -> None:
    """A running VM's disks change while they are read: only a named internal snapshot
    (which does not) is a consistent source, and only for a full copy."""
    running = foreign_instance(vm)
    if running is None:
        return
    if req.snapshot is None:
        raise CtysError(
            f"VM {vm.label} is running (pid {running.pid}): stop it, or clone a snapshot "
            "of it with --snapshot NAME --full"
        )
    if req.mode is CloneMode.LINKED:
        raise CtysError(f"VM {vm.label} is running: a linked clone needs it stopped (--full)")


def _probe(path: Path, req: CloneRequest) -> str:
    """The disk's format from ``qemu-img info`` (which also proves it readable and, without
    ``-U``, not held open by a qemu)."""
    if not path.is_file():
        raise CtysError(f"cannot read disk {path}: no such file")
    try:
        out = run_qemu_img(info_argv(path, force_share=req.snapshot is not None))
    except CommandError as err:
        raise VmError(f"cannot read disk {path}: {err}") from None
    info = json.loads(out)
    if req.snapshot is not None:
        names = {s.get("name") for s in info.get("snapshots", [])}
        if req.snapshot not in names:
            raise CtysError(f"disk {path} has no internal snapshot {req.snapshot!r}")
    return str(info.get("format") or "raw")


def _disk_name(path: Path, vm: VmConfig, req: CloneRequest) -> str:
    """The disk's file name in the clone: the source's, with the old label replaced by the
    new one; a linked clone's overlay always ends in ``.qcow2`` (its format)."""
    name = path.name.replace(vm.label, req.label) if vm.label else path.name
    if req.mode is CloneMode.LINKED and not name.endswith(".qcow2"):
        name = f"{Path(name).stem}.qcow2"
    return name


def _new_macs(names: list[str], first: str | None) -> dict[str, str]:
    """Fresh, distinct MACs for the conf's MAC keys; ``first`` for MAC/MAC0 if given."""
    macs: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        if name in macs:
            continue
        if first is not None and name in ("MAC", "MAC0") and first not in used:
            mac = first
        else:
            mac = random_mac()
            while mac in used:
                mac = random_mac()
        macs[name] = mac
        used.add(mac)
    return macs


def _layout(vm: VmConfig) -> Layout | None:
    """The source's folder layout when it has a wrapper (01.11 ``.ctys``+``.sh``, 01.07
    ``.conf``+``.ctys``); ``None``: conf only."""
    if vm.conf_path.suffix == ".ctys":
        return Layout.V0111
    if vm.conf_path.with_suffix(".ctys").is_file():
        return Layout.V0107
    return None


def store_in_inventory(inventory: Path, conf: Path) -> int:
    """The clone's rows, made as ENUMERATE makes a found VM's, added to ``inventory``."""
    from ctys.inventory.store import Inventory

    vm = load_vm_config(conf)
    uid, gid = scanner_ids()
    records = [
        replace(record, uid=uid, gid=gid)
        for record in records_per_address(found_of(vm), this_host(), time.time())
    ]
    inventory.parent.mkdir(parents=True, exist_ok=True)
    with Inventory.open(inventory) as inv:
        return inv.add(records)


def label_in_inventory(inventory: Path, label: str) -> bool:
    """Whether ``inventory`` (if it exists) has a VM called ``label``."""
    from ctys.inventory.store import Inventory

    if not inventory.exists():
        return False
    with Inventory.open(inventory) as inv:
        return bool(inv.find(label=label))
