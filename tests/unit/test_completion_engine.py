"""Completion of one word of a ctys command line (``ctys.completion.engine``), with fake
name sources: options from argscan, plugins, actions and suboption keys from the catalog,
values, labels, hosts and host groups."""

from __future__ import annotations

from collections.abc import Sequence

from ctys import argscan
from ctys.completion.catalog import Catalogs, PluginCatalog
from ctys.completion.engine import Candidate, complete
from ctys.plugins.base import SuboptionSpec, ValueKind

CATALOG = PluginCatalog(
    actions={"CREATE": "boot", "LIST": "list"},
    suboptions={
        "CREATE": {
            "L": SuboptionSpec("label", ValueKind.LABEL),
            "CONSOLE": SuboptionSpec("console", ValueKind.CHOICE, ("CLI", "VNC")),
            "CONNECT": SuboptionSpec("attach"),
            "BASEPATH": SuboptionSpec("folders", ValueKind.PATH),
        },
        "LIST": {},
    },
)


class FakeSources:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def plugin_names(self) -> Sequence[str]:
        return ["QEMU"]

    def catalogs(self, types: Sequence[str]) -> Catalogs:
        self.asked.append(",".join(types))
        return {"QEMU": CATALOG} if types in ([], ["QEMU"]) else {}

    def labels(self) -> Sequence[str]:
        return ["demo", "Debian", "web"]

    def hosts(self) -> Sequence[str]:
        return ["alpha", "beta"]

    def groups(self) -> Sequence[str]:
        return ["lab", "lab/rack1"]

    def paths(self, prefix: str) -> Sequence[str]:
        return [p for p in ("/vms/", "/vmx.iso") if p.startswith(prefix)]


def values(words: Sequence[str], current: str) -> list[str]:
    return [c.value for c in complete(words, current, FakeSources())]


def test_options_are_argscans_letters() -> None:
    found = values([], "-")
    assert {f"-{letter}" for letter in argscan._VALUE_OPTIONS} <= set(found)
    assert {"-h", "-H", "-V", "--inventory"} <= set(found)
    assert values([], "--inv") == ["--inventory"]


def test_plugins_after_t_and_all_after_capital_t() -> None:
    assert values(["-t"], "") == ["QEMU"]
    assert values(["-t"], "q") == ["qemu"]  # -t takes any case
    assert values(["-T"], "") == ["QEMU", "ALL"]


def test_actions_end_in_equals_when_they_take_suboptions() -> None:
    assert values(["-t", "QEMU", "-a"], "") == ["CREATE=", "LIST"]
    assert values(["-a"], "cr") == ["create="]  # typed in lower case: offered so
    assert values([], "-aCR") == ["-aCREATE="]


def test_suboption_keys_then_values() -> None:
    assert values(["-a"], "CREATE=") == [
        "CREATE=L:",
        "CREATE=CONSOLE:",
        "CREATE=CONNECT",
        "CREATE=BASEPATH:",
    ]
    assert values(["-a"], "CREATE=l:demo,CON") == [
        "CREATE=l:demo,CONSOLE:",
        "CREATE=l:demo,CONNECT",
    ]
    assert values(["-a"], "CREATE=l:demo,CONSOLE:") == [
        "CREATE=l:demo,CONSOLE:CLI",
        "CREATE=l:demo,CONSOLE:VNC",
    ]
    assert values(["-a"], "CREATE=CONSOLE:v") == ["CREATE=CONSOLE:vnc"]


def test_labels_come_from_the_sources_case_sensitively() -> None:
    assert values(["-a"], "CREATE=l:") == ["CREATE=l:demo", "CREATE=l:Debian", "CREATE=l:web"]
    assert values(["-a"], "CREATE=l:De") == ["CREATE=l:Debian"]


def test_path_values_after_percent_too() -> None:
    assert values(["-a"], "CREATE=BASEPATH:/vm") == [
        "CREATE=BASEPATH:/vms/",
        "CREATE=BASEPATH:/vmx.iso",
    ]
    assert values(["-a"], "CREATE=BASEPATH:/a%/vms") == ["CREATE=BASEPATH:/a%/vms/"]


def test_unknown_action_or_key_offers_nothing() -> None:
    assert values(["-a"], "NOPE=") == []
    assert values(["-a"], "CREATE=NOPE:") == []


def test_the_plugin_named_by_t_is_asked() -> None:
    sources = FakeSources()
    assert complete(["-t", "XEN", "-a"], "", sources) == []
    assert sources.asked == ["XEN"]


def test_targets_are_hosts_and_groups() -> None:
    found = complete(["-a", "LIST"], "", FakeSources())
    assert found == [
        Candidate("alpha", "host"),
        Candidate("beta", "host"),
        Candidate("lab", "host group"),
        Candidate("lab/rack1", "host group"),
    ]
    assert values(["-a", "LIST"], "root@b") == ["root@beta"]


def test_option_choices_and_the_end_of_options() -> None:
    assert values(["-C"], "re") == ["rebuild"]
    assert values(["-a", "LIST", "--"], "-") == []  # after --, a word is a target
    assert values(["-l"], "") == []


def test_continuing_candidates() -> None:
    assert Candidate("CREATE=").continues
    assert Candidate("l:").continues
    assert not Candidate("CONNECT").continues
