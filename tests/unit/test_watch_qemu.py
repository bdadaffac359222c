"""WATCH's QEMU event source: state changes named as QMP events, its suboptions."""

from __future__ import annotations

import pytest

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
    from ctys.argscan import parse_action
    from ctys.plugins.qemu.actions.watch import parse_watch

    assert parse_watch(parse_action("WATCH")) == ((), False)
    assert parse_watch(parse_action("WATCH=ALL,JSON")) == ((), True)
    assert parse_watch(parse_action("WATCH=l:vm1,json")) == (("vm1",), True)


def test_watch_is_in_the_completion_table_and_help() -> None:
    from ctys.plugins.qemu import make_plugin

    plugin = make_plugin()
    assert "JSON" in plugin.suboptions("WATCH")
    assert "WATCH" in plugin.actions()
    assert "-a WATCH[=<address>|ALL][,JSON]" in plugin.help(None)
