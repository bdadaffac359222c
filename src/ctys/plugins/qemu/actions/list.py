"""LIST: the QEMU VMs running on this host, ours (managed) and any other (unmanaged).

Managed VMs come from our runtime folders (``vm.runtime.scan_runtime``: a folder whose qemu
is gone is stale and is removed on sight). Every other qemu in the process table is listed
from what its command line says and tied to a conf file by the original's naming rules (see
``match_conf``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, TextIO

from ctys.errors import UsageError
from ctys.plugins.qemu.vm.processes import QemuProcess, scan_qemu_processes
from ctys.plugins.qemu.vm.runstate import RunState
from ctys.plugins.qemu.vm.runtime import (
    EntryState,
    RuntimeDir,
    RuntimeRecord,
    VmRuntimeDir,
    scan_runtime,
)
from ctys.plugins.qemu.vncaddr import foreign_vnc_columns, record_vnc

if TYPE_CHECKING:
    from ctys.invocation import ActionCall, OutputFormat
    from ctys.plugins.base import RunContext
    from ctys.plugins.qemu.net.guestip import GuestIp, Neighbour
    from ctys.plugins.qemu.vmconfig import VmConfig

# Imported where they are used, not here: the guest-address modules (net.guestip and the
# network and agent modules below it) only when a managed VM runs, QMP (vm.handle) only
# when a monitor is asked, the thread pool only for more than one VM. LIST with no VM
# of ours then costs little more than the interpreter (tests/unit/test_hot_imports.py).

STATE_UNKNOWN = RunState.UNKNOWN.value
STATE_RUNNING = RunState.RUNNING.value
STATE_SHUT_OFF = "shut off"  # a known VM that does not run (LIST=ALLVMS), as virsh says

_FIELDS = (
    "LABEL",
    "STATE",
    "PID",
    "USER",
    "MANAGED",
    "ACCEL",
    "VNC",
    "CONSOLE",
    "UUID",
    "CONF",
    "IMAGE",
    "IP",
    "QMP",
    "BINARY",
    "MAC",
    "VMID",  # the runtime ID (VMID: addresses it); ID is the conf path, as in the original
)
DEFAULT_TABLE_FIELDS = (
    "LABEL", "STATE", "PID", "USER", "MANAGED", "ACCEL", "VNC", "IP", "MAC", "VMID", "CONF",
)  # fmt: skip
# Names the original's inventory used for the same facts.
_FIELD_ALIASES = {
    "ACCELERATOR": "ACCEL",
    "VNCPORT": "VNC",
    "CPORT": "VNC",
    "PNAME": "CONF",
    "ID": "CONF",
    "FILENAME": "CONF",
    "TCP": "IP",
    "EXEPATH": "BINARY",
}


@dataclass(frozen=True)
class VmEntry:
    """One running VM as LIST shows it."""

    label: str
    pid: int
    managed: bool
    state: str
    uuid: str | None = None
    user: str | None = None
    accelerator: str | None = None
    vnc: str | None = None  # "127.0.0.1:5901", "unix:/path"
    console: Path | None = None
    qmp: Path | None = None
    conf: Path | None = None
    binary: str = ""
    image: Path | None = None
    ip: str | None = None
    vmid: str | None = None  # the runtime ID of a managed VM, the PID of another qemu
    mac: str | None = None  # the conf's primary MAC (the original's LIST field MAC)
    address: str | None = None  # the guest's address alone (the original's field TCP)
    vcpus: int | None = None  # -smp and -m of its command line (SHOW)
    memory_mb: int | None = None

    @property
    def running(self) -> bool:
        """False for a known VM that does not run (``actions.liststopped``; pid 0)."""
        return self.state != STATE_SHUT_OFF

    def row(self) -> dict[str, object]:
        """The entry keyed by ``list_fields()`` names."""
        return {
            "LABEL": self.label,
            "STATE": self.state,
            "PID": self.pid if self.running else None,
            "USER": self.user,
            "MANAGED": self.managed,
            "ACCEL": self.accelerator,
            "VNC": self.vnc,
            "CONSOLE": self.console,
            "UUID": self.uuid,
            "CONF": self.conf,
            "IMAGE": self.image,
            "IP": self.ip,
            "QMP": self.qmp,
            "BINARY": self.binary,
            "VMID": self.vmid,
            "MAC": self.mac,
        }


def list_fields() -> tuple[str, ...]:
    """The LIST columns, in their default order."""
    return _FIELDS


def list_vms(
    runtime: RuntimeDir,
    confs: Sequence[VmConfig],
    processes: Sequence[QemuProcess] | None = None,
    *,
    status_timeout: float = 1.0,
    err: TextIO | None = None,
) -> list[VmEntry]:
    """Every running VM: managed ones from ``runtime`` (stale folders are removed), then
    every other qemu in ``processes`` (default: the live process table), matched to
    ``confs``. Sorted by label, then pid. The monitors are asked together: LIST waits
    at most ``status_timeout`` for all; a monitor that does not answer gives state
    ``unknown``."""
    procs = list(processes) if processes is not None else scan_qemu_processes()
    by_pid = {p.pid: p for p in procs}
    managed = list(_managed_vms(runtime, by_pid, err))
    states = _query_states([vmdir for vmdir, _, _ in managed], status_timeout)
    # The host's neighbour table is read once for all VMs, and only if one needs it.
    neighbours = functools.cache(_read_neighbours)
    entries = _managed_entries(managed, states, confs, neighbours)
    claimed = {proc.pid for _, _, proc in managed}
    others = [p for p in procs if p.pid not in claimed]
    vncs = foreign_vnc_columns(others, status_timeout)
    for proc, vnc in zip(others, vncs, strict=True):
        entries.append(_unmanaged_entry(proc, match_conf(proc, confs), vnc))
    entries.sort(key=lambda e: (e.label.lower(), e.pid))
    return entries


def _managed_vms(
    runtime: RuntimeDir, by_pid: Mapping[int, QemuProcess], err: TextIO | None
) -> Iterator[tuple[VmRuntimeDir, RuntimeRecord, QemuProcess]]:
    """The running managed VMs (``vm.runtime.scan_runtime``'s one stale rule); a folder
    whose qemu runs without a readable record is reported on ``err`` (and its qemu listed
    as unmanaged)."""
    for entry in scan_runtime(runtime, by_pid):
        if entry.state is EntryState.RUNNING and entry.record and entry.process:
            yield entry.rundir, entry.record, entry.process
        problem = entry.problem()
        if problem is not None and err is not None:
            print(problem, file=err)


_AGENT_WORKERS = 8


def _managed_entries(
    managed: Sequence[tuple[VmRuntimeDir, RuntimeRecord, QemuProcess]],
    states: Sequence[str],
    confs: Sequence[VmConfig],
    neighbours: Callable[[], Sequence[Neighbour]],
) -> list[VmEntry]:
    """The managed VMs' entries. A VM whose guest agent socket exists may make its IP
    column wait for the agent (``agent_timeout``, 0.5 s): when two or more have one, the
    entries are built in parallel, so LIST waits about one agent timeout, not one per VM."""
    items = list(zip(managed, states, strict=True))

    def build(item: tuple[tuple[VmRuntimeDir, RuntimeRecord, QemuProcess], str]) -> VmEntry:
        (vmdir, record, proc), state = item
        return _managed_entry(vmdir, record, proc, state, confs, neighbours)

    if len(items) < 2:
        return [build(item) for item in items]
    from ctys.plugins.qemu.net.network import qga_socket

    if sum(qga_socket(vmdir.path).exists() for vmdir, _, _ in managed) < 2:
        return [build(item) for item in items]
    for _, record, _ in managed:  # each conf read once, before the threads share them
        _conf_for_record(record, confs)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(_AGENT_WORKERS, len(items))) as pool:
        return list(pool.map(build, items))


def _read_neighbours() -> Sequence[Neighbour]:
    from ctys.plugins.qemu.net.guestip import read_neighbours

    return read_neighbours()


def _query_states(vmdirs: Sequence[VmRuntimeDir], timeout: float) -> list[str]:
    """QMP run state of each VM: all monitors asked at once (``vm.qmpprobe``), so N
    silent monitors cost one timeout; ``unknown`` for one that did not answer."""
    if not vmdirs:
        return []
    from ctys.plugins.qemu.vm import qmpprobe

    states = qmpprobe.query_states([vmdir.qmp for vmdir in vmdirs], timeout)
    return [RunState.parse(state).value if state else STATE_UNKNOWN for state in states]


def conf_at(confs: Sequence[VmConfig], path: Path) -> VmConfig | None:
    """The conf at ``path`` among ``confs``; ``confs.at`` where it has one
    (``confs.reader.LazyConfs``: the file read alone, no folder scanned)."""
    at: Callable[[Path], VmConfig | None] | None = getattr(confs, "at", None)
    if at is not None:
        return at(path)
    return next((conf for conf in confs if conf.conf_path == path), None)


def _conf_for_record(record: RuntimeRecord, confs: Sequence[VmConfig]) -> VmConfig | None:
    if record.conf:
        found = conf_at(confs, Path(record.conf))
        if found is not None:
            return found
    if record.uuid:
        found = next((c for c in confs if c.uuid and c.uuid.lower() == record.uuid.lower()), None)
        if found is not None:
            return found
    return _record_conf(record)


def _record_conf(record: RuntimeRecord) -> VmConfig | None:
    """The conf a runtime record names, read now: a VM started from a conf outside the
    scanned folders still gets its IP column. ``None`` when it cannot be read."""
    if not record.conf:
        return None
    from ctys.plugins.qemu.confs.mapping import vm_config_or_none

    return vm_config_or_none(Path(record.conf))


def _managed_entry(
    vmdir: VmRuntimeDir,
    record: RuntimeRecord,
    proc: QemuProcess,
    state: str,
    confs: Sequence[VmConfig],
    neighbours: Callable[[], Sequence[Neighbour]],
) -> VmEntry:
    cmd = proc.cmdline
    conf = _conf_for_record(record, confs)
    spec = record_vnc(record) or cmd.vnc
    vnc = str(spec) if spec else None
    console = vmdir.console if vmdir.console.exists() else _path(cmd.console_socket)
    found_ip = _guest_ip(conf, vmdir, neighbours)
    return VmEntry(
        label=record.label or cmd.name or vmdir.vmid,
        pid=proc.pid,
        managed=True,
        state=state,
        uuid=record.uuid or cmd.uuid,
        user=proc.user,
        accelerator=(record.accelerator or cmd.accelerator or "").lower() or None,
        vnc=vnc,
        console=console,
        qmp=vmdir.qmp,
        conf=Path(record.conf) if record.conf else None,
        binary=record.binary or cmd.binary,
        image=_path(cmd.image),
        ip=found_ip.shown() if found_ip else None,
        vmid=vmdir.vmid,
        mac=record.mac or (conf.mac if conf else None),
        address=_address(found_ip),
        vcpus=cmd.smp,
        memory_mb=cmd.memory_mb,
    )


def _guest_ip(
    conf: VmConfig | None,
    vmdir: VmRuntimeDir,
    neighbours: Callable[[], Sequence[Neighbour]],
) -> GuestIp | None:
    """The address of a managed VM: the conf's static address, else what the guest agent
    or the host's neighbour table knows, else ``user-mode`` and its port forwards."""
    if conf is None:
        return None
    from ctys.plugins.qemu.net.guestip import guest_ip

    return guest_ip(conf, vmdir.path, agent_timeout=0.5, read_table=neighbours)


def _address(found: GuestIp | None) -> str | None:
    """The guest's address as other hosts reach it (none inside a user-mode network)."""
    if found is None or found.user_mode:
        return None
    return found.address


def _unmanaged_entry(proc: QemuProcess, conf: VmConfig | None, vnc: str | None) -> VmEntry:
    cmd = proc.cmdline
    image = _path(cmd.image)
    label = cmd.name or (conf.label if conf else None) or (image.stem if image else "")
    return VmEntry(
        label=label,
        pid=proc.pid,
        managed=False,
        state=STATE_RUNNING,
        uuid=cmd.uuid or (conf.uuid if conf else None),
        user=proc.user,
        accelerator=cmd.accelerator,
        vnc=vnc,
        console=_path(cmd.console_socket),
        qmp=_path(cmd.qmp_socket),
        conf=conf.conf_path if conf else None,
        binary=cmd.binary,
        image=image,
        ip=conf.ip if conf else None,
        vmid=str(proc.pid),
        mac=conf.mac if conf else None,
        address=conf.ip if conf else None,
        vcpus=cmd.smp,
        memory_mb=cmd.memory_mb,
    )


def list_rows(
    entries: Sequence[VmEntry], wanted: Collection[str], host: str
) -> list[dict[str, object]]:
    """Each entry as one row: ctys' fields and the original's record (``wanted``: the
    fields printed, so the costly ones are filled only when asked for)."""
    if not entries:
        return []  # LIST with no VM: the original's record fields are not loaded
    from ctys.plugins.qemu.actions.listrecord import original_fields

    return [{**e.row(), **original_fields(e, host, wanted)} for e in entries]


def exec_warnings(entries: Sequence[VmEntry], confs: Sequence[VmConfig]) -> Iterator[str]:
    """The ``warning:`` lines for the listed VMs whose confs run programs of their choice
    (``ctys.plugins.qemu.boot.execpolicy``); no conf is read when no VM is listed."""
    shown = {e.conf for e in entries if e.conf is not None}
    if not shown:
        return
    from ctys.plugins.qemu.boot.execpolicy import host_exec_warnings

    listed = (conf_at(confs, path) for path in sorted(shown))
    yield from host_exec_warnings(conf for conf in listed if conf is not None)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _prefix(name: str) -> str:
    """A file name's prefix as the original meant it: the part before the first dot."""
    return name.split(".", 1)[0]


def match_conf(proc: QemuProcess, confs: Sequence[VmConfig]) -> VmConfig | None:
    """The conf file of a qemu we did not start, by the first rule that matches:

    0. the ``-uuid`` equals the conf's UUID;
    1. the boot image's directory name == the conf file's prefix (``vm1/disk.img``, ``vm1.conf``);
    2. the image file's prefix == the conf file's prefix (``vm1.qcow2``, ``vm1.conf``);
    3. the label (``-name``) == the conf file's prefix.

    Confs marked MAGICID-IGNORE never match. Where several confs fit one rule, the one in
    the image's own directory wins (the original keeps image and conf together)."""
    cmd = proc.cmdline
    candidates = [c for c in confs if not c.ignored]
    if cmd.uuid:
        uuid = cmd.uuid.lower()
        for conf in candidates:
            if conf.uuid and conf.uuid.lower() == uuid:
                return conf
    image = PurePath(cmd.image) if cmd.image else None
    rules: list[set[str]] = [
        {image.parent.name} if image else set(),
        {_prefix(image.name), image.stem} if image else set(),
        {cmd.name} if cmd.name else set(),
    ]
    for wanted in rules:
        wanted.discard("")
        fits = [
            c
            for c in candidates
            if c.conf_path.stem in wanted or _prefix(c.conf_path.name) in wanted
        ]
        if fits:
            beside = [c for c in fits if image is not None and c.directory == Path(image.parent)]
            return (beside or fits)[0]
    return None


# --- ctys' own fields -----------------------------------------------------------------

# The original's record fields that are not ctys' own under another name: -o ALL (what a
# target of a merged LIST answers) carries them too.
_ORIGINAL_ONLY = (
    "PM", "TYPE", "ID", "TCP", "DISPLAY", "CPORT", "SPORT", "UID", "GID", "CSTYPE",
    "JOBID", "IFNAME", "RESERVED", "CONTEXTSTRG", "EXECPATH", "HYPERRELRUN", "ACCELERATOR",
    "ARCH",
)  # fmt: skip


def all_list_fields() -> tuple[str, ...]:
    """``-o ALL``: every field, ctys' and the original's (what a merged LIST's target
    answers)."""
    return tuple(dict.fromkeys((*_FIELDS, *_ORIGINAL_ONLY)))


def select_ctys_fields(requested: Sequence[str], fmt: OutputFormat) -> tuple[str, ...]:
    """The ``-o`` columns: ``requested`` (case-insensitive; ctys' names and their aliases
    first, then the original's record fields; ``ALL`` = every field, ctys' and the
    original's), or the default set (a short one for the table, ctys' all otherwise)."""
    from ctys.formats.listfields import is_list_field, list_field
    from ctys.invocation import OutputFormat

    if not requested:
        return DEFAULT_TABLE_FIELDS if fmt is OutputFormat.TABLE else _FIELDS
    fields: list[str] = []
    for name in requested:
        key = name.upper()
        key = _FIELD_ALIASES.get(key, key)
        if key == "ALL":
            fields.extend(all_list_fields())
        elif key in _FIELDS:
            fields.append(key)
        elif is_list_field(key):
            fields.append(list_field(key).name)
        else:
            raise UsageError(f"unknown LIST field '{name}' (valid: {', '.join(_FIELDS)}, ALL)")
    return tuple(dict.fromkeys(fields))


def run_list_action(call: ActionCall, ctx: RunContext) -> int:
    """LIST on this host: runtime records of the user, the process table, and the conf files
    under the default VM paths (to name VMs that ctys did not start)."""
    from ctys.plugins.qemu.actions.listout import run_list
    from ctys.plugins.qemu.confs.reader import LazyConfs, qemu_base_paths

    # The confs are scanned only when a VM runs (to name it) or ALLVMS asks for them.
    return run_list(call, ctx, RuntimeDir(), LazyConfs(qemu_base_paths()))
