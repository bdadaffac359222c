"""The argument of the original's helper actions GETCLIENTPORT and ISACTIVE, and the
running VMs it names.

The original echoes its argument as given (``CLIENTPORT(QEMU,host,<arg>)``) and matches
the text after a ``KEY:`` prefix (``${1#*:}``), so ``vm1``, ``l:vm1``, ``ID:/vms/vm1.conf``
and the bare path ``/vms/vm1.conf`` all work. Here a word names a running VM whose label,
ID (conf path), UUID, runtime ID, PID or boot image is exactly that word."""

from __future__ import annotations

from collections.abc import Sequence

from ctys.errors import UsageError
from ctys.invocation import ActionCall
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.list import VmEntry


def helper_argument(call: ActionCall, usage: str) -> tuple[str, tuple[str, ...]]:
    """The argument text as typed and the words it names; ``UsageError`` (``usage``) when
    there is none."""
    if not call.suboptions:
        raise UsageError(f"{call.name} needs its argument: {usage}")
    text = ",".join(sub.raw for sub in call.suboptions)
    return text, tuple(_word(sub.raw) for sub in call.suboptions)


def _word(raw: str) -> str:
    if raw.startswith("/") or ":" not in raw:
        return raw
    return raw.partition(":")[2]


def matches(entry: VmEntry, words: Sequence[str]) -> bool:
    """Whether one of ``words`` names ``entry``."""
    names = {entry.label, str(entry.pid)}
    names.update(str(v) for v in (entry.conf, entry.vmid, entry.image) if v)
    uuid = (entry.uuid or "").lower()
    return any(w in names or (uuid and w.lower() == uuid) for w in words)


def running_entries(ctx: RunContext) -> list[VmEntry]:
    """The VMs running on this host, as LIST sees them (conf IDs from the VM folders)."""
    from ctys.plugins.qemu.actions.list import list_vms
    from ctys.plugins.qemu.confs.reader import LazyConfs, qemu_base_paths
    from ctys.plugins.qemu.vm.runtime import RuntimeDir

    return list_vms(RuntimeDir(), LazyConfs(qemu_base_paths()), err=ctx.err)
