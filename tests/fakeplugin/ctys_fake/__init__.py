"""A test-only ctys plugin, session type FAKE: it proves the plugin boundary.

It is found only by its entry point (``tests/fakeplugin/ctys_fake-0.1.dist-info``; put
``tests/fakeplugin`` on ``PYTHONPATH``), and its one action LIST prints the "pets" of this
host with fields of its own (``PET``, ``SOUND``). On several targets the core fans LIST
out and this plugin merges the rows (``PetsMerge``): nothing in the core knows FAKE.

Its VM confs carry ``MAGICID-FAKE``; it describes them to the core (``describe``) from the
generic ctys keys, so the core's scan, address resolution and inventory find them. None of
its VMs ever runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ctys.conf.found import FoundVm
from ctys.errors import UsageError
from ctys.inventory.settings import this_host
from ctys.plugins.base import SuboptionSpec

if TYPE_CHECKING:
    from ctys.conf.parser import SourceLines
    from ctys.conf.rawconf import RawConf
    from ctys.invocation import ActionCall, Target
    from ctys.plugins.base import MergedAction, Placement, RunContext, TargetRows

FIELDS = ("PET", "SOUND")


def pets(host: str) -> list[dict[str, object]]:
    """The rows LIST prints on ``host``: they name the host, so a test sees who answered."""
    return [{"PET": f"cat-of-{host}", "SOUND": "meow"}, {"PET": f"dog-of-{host}", "SOUND": "woof"}]


def _json(call: ActionCall) -> bool:
    for sub in call.suboptions:
        if sub.key != "JSON":
            raise UsageError(f"unknown FAKE LIST suboption '{sub.raw}' (valid: JSON)")
    return bool(call.suboptions)


def _print(
    rows: Sequence[Mapping[str, object]], fields: Sequence[str], call: ActionCall, ctx: RunContext
) -> None:
    """``rows`` as JSON (``LIST=JSON``) or as a table of ``fields``."""
    if _json(call):
        json.dump(rows, ctx.out)
        print(file=ctx.out)
        return
    print(" ".join(fields), file=ctx.out)
    for row in rows:
        print(" ".join(str(row.get(f, "")) for f in fields), file=ctx.out)


class PetsMerge:
    """FAKE LIST on several targets: each answers JSON; one table, HOST first."""

    def target_options(
        self,
        call: ActionCall,
        target: Target,
        options: MutableMapping[str, str],
        *,
        clear_done: bool,
    ) -> None:
        options["a"] = "LIST=JSON"

    def prepare(self, call: ActionCall, ctx: RunContext) -> None:
        _json(call)

    def merge(self, call: ActionCall, answers: Sequence[TargetRows], ctx: RunContext) -> int:
        rows = [{"HOST": a.name, **row} for a in answers for row in a.rows]
        _print(rows, ("HOST", *FIELDS), call, ctx)
        return 0


class FakePlugin:
    """Session type FAKE."""

    name = "FAKE"
    magic_id = "MAGICID-FAKE"
    vm_home = "fake-vms"
    EXEPATH = "/usr/libexec/fake-hypervisor"  # the program its inventory rows name

    def describe(self, raw: RawConf, lines: SourceLines | None) -> FoundVm:
        """A FAKE conf: the ``#@#`` keys LABEL, UUID, MAC and IP, nothing checked."""
        path = raw.path.absolute()
        return FoundVm(
            stype=self.name,
            conf_path=path,
            label=raw.keys.get("LABEL") or path.stem,
            uuid=raw.keys.get("UUID"),
            mac=raw.keys.get("MAC"),
            ip=raw.keys.get("IP"),
            magic=raw.magic,
            details={"exepath": self.EXEPATH},
            raw=raw,
        )

    def confs_with_learned_ip(self, ip: str) -> Sequence[Path]:
        return ()  # no FAKE VM runs

    def actions(self) -> Mapping[str, str]:
        return {"LIST": "the pets of this host (fields PET, SOUND)"}

    def help(self, action: str | None) -> str:
        return "FAKE plugin actions:\n  -a LIST[=JSON]\n"

    def suboptions(self, action: str) -> Mapping[str, SuboptionSpec]:
        return {"JSON": SuboptionSpec("JSON rows")} if action == "LIST" else {}

    def run(self, call: ActionCall, ctx: RunContext) -> int:
        if call.name != "LIST":
            raise UsageError(f"unknown action '{call.name}' for FAKE (LIST)")
        _print(pets(this_host()), FIELDS, call, ctx)
        return 0

    def merged(self, action: str) -> MergedAction | None:
        return PetsMerge() if action == "LIST" else None

    def placement(self, action: str) -> Placement | None:
        return None

    def forwarding(self, action: str) -> None:
        return None  # -L CF: no client of its own

    def attaches_terminal(self, call: ActionCall, *, background: bool) -> bool:
        return False
