"""WATCH's QEMU event source: state changes named as QMP events, its suboptions."""

from __future__ import annotations

import pytest

from ctys.address.match import VmFacts
from ctys.plugins.qemu.actions.watch import event_name


@pytest.mark.parametrize(
    ("old", "new", "event"),
    [
        (None, "running", "START"),
        (None, "foreign", "FOREIGN_START"),
        ("running", None, "GONE"),
        ("foreign", None, "FOREIGN_GONE"),
        ("running", "paused", "STOP"),
        ("paused", "running", "RESUME"),
        ("running", "shutdown", "SHUTDOWN"),
        ("running", "guest-panicked", "GUEST_PANICKED"),
        ("running", "internal-error", "INTERNAL_ERROR"),
        ("starting", "running", "RUNNING"),
        ("running", "colo", "STATE:colo"),
    ],
)
def test_state_changes_are_named_as_qmp_events(
    old: str | None, new: str | None, event: str
) -> None:
    assert event_name(old, new) == event


def test_watch_suboptions_parse_json_all_and_an_address() -> None:
    from ctys.address.model import AddressKind, MachineAddress
    from ctys.argscan import parse_action
    from ctys.plugins.qemu.actions.watch import WatchRequest, parse_watch

    assert parse_watch(parse_action("WATCH")) == WatchRequest()
    assert parse_watch(parse_action("WATCH=ALL,JSON")) == WatchRequest(as_json=True)
    req = parse_watch(parse_action("WATCH=l:vm1,json"))
    assert req.selector.terms == (MachineAddress(AddressKind.LABEL, "vm1"),)
    assert req.as_json
    assert parse_watch(parse_action("WATCH=web1")).names == ("web1",)


@pytest.mark.parametrize("text", ["WATCH=FOO:x", "WATCH=JSON:x", "WATCH=l:a%b"])
def test_watch_refuses_a_bad_suboption_naming_it(text: str) -> None:
    from ctys.argscan import parse_action
    from ctys.errors import UsageError
    from ctys.plugins.qemu.actions.watch import parse_watch

    with pytest.raises(UsageError, match=text.partition("=")[2].split("%")[0]):
        parse_watch(parse_action(text))


_VM = VmFacts(
    label="web1",
    conf="/srv/vms/web1/web1.conf",
    uuid="0A0B0C0D-1111-2222-3333-444455556666",
    mac="52:54:00:12:34:56",
    ip="10.0.0.5/24",
    vmid="web1-0a156b91",
)


@pytest.mark.parametrize(
    ("address", "watched"),
    [
        ("l:web1", True),
        ("LABEL:web2", False),
        ("UUID:0a0b0c0d-1111-2222-3333-444455556666", True),
        ("M:52-54-00-12-34-56", True),
        ("MAC:52:54:00:12:34:57", False),
        ("IP:10.0.0.5", True),
        ("T:10.0.0.6", False),
        ("/srv/vms/web1/web1.conf", True),
        ("ID:/srv/vms/web1/web1.conf", True),
        ("P:/srv/vms/db/db.conf", False),
        ("F:web1/web1", True),
        ("VMID:web1-0a156b91", True),
        ("BASEPATH:/srv/vms", True),
        ("BASEPATH:/other", False),
        ("l:web1,IP:10.0.0.9", False),  # every term must match
        ("web1", True),  # a bare word: label or runtime ID
        ("web1-0a156b91", True),
        ("web", False),
        ("ALL", True),
    ],
)
def test_the_address_filter_takes_every_address_form(address: str, watched: bool) -> None:
    from ctys.argscan import parse_action
    from ctys.plugins.qemu.actions.watch import parse_watch

    assert parse_watch(parse_action(f"WATCH={address}")).wants(_VM) is watched


def test_watch_is_in_the_completion_table_and_help() -> None:
    from ctys.plugins.qemu import make_plugin

    plugin = make_plugin()
    assert "JSON" in plugin.suboptions("WATCH")
    assert "WATCH" in plugin.actions()
    assert "-a WATCH[=<address>|ALL][,JSON]" in plugin.help(None)
