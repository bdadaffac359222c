"""WATCH's core: event lines, JSON parsing, snapshot diffs, backoff, the merged stream."""

from __future__ import annotations

import io
import json
import sys
import threading

from hypothesis import given
from hypothesis import strategies as st

from ctys.remote.watchstream import (
    WatchEvent,
    backoff_delays,
    format_event,
    parse_event_line,
    snapshot_events,
    stream_targets,
)


def _name(old: str | None, new: str | None) -> str | None:
    if old is None:
        return "START"
    if new is None:
        return "GONE"
    return None if new == "ignored" else f"{old}>{new}"


def test_text_line_has_time_host_label_event_detail() -> None:
    line = format_event(WatchEvent(0.25, "h1", "vm1", "STOP", "id1"), as_json=False)
    assert line == "1970-01-01T00:00:00.250Z h1 vm1 STOP id1"


def test_text_line_escapes_a_hostile_label() -> None:
    line = format_event(WatchEvent(0.0, "h", "a\x1b[2Jb", "START"), as_json=False)
    assert "\x1b" not in line
    assert "a" in line and "b" in line


def test_json_line_round_trips_with_the_targets_name() -> None:
    event = WatchEvent(12.5, "remote-self", "vm", "RESUME", "x")
    parsed = parse_event_line(format_event(event, as_json=True), "alice@h2")
    assert parsed == WatchEvent(12.5, "alice@h2", "vm", "RESUME", "x")


def test_non_event_lines_are_dropped() -> None:
    for line in ("", "hello", "[1]", '{"time": 1}', '{"time": "x", "event": "A"}'):
        assert parse_event_line(line, "h") is None


@given(st.text(), st.text(), st.text(), st.floats(0, 4e9))
def test_any_event_round_trips(label: str, event: str, detail: str, when: float) -> None:
    ev = WatchEvent(when, "h", label, event, detail)
    assert parse_event_line(format_event(ev, as_json=True), "h") == ev
    assert "\n" not in format_event(ev, as_json=False)


def test_snapshot_diff_names_start_change_and_gone_in_key_order() -> None:
    before = {"a": ("vmA", "running"), "b": ("vmB", "running"), "c": ("vmC", "paused")}
    after = {"a": ("vmA", "paused"), "c": ("vmC", "paused"), "d": ("vmD", "running")}
    events = snapshot_events(before, after, host="h", when=1.0, name=_name)
    assert [(e.label, e.event, e.detail) for e in events] == [
        ("vmA", "running>paused", "a"),
        ("vmB", "GONE", "b"),
        ("vmD", "START", "d"),
    ]


def test_snapshot_diff_skips_unnamed_changes() -> None:
    events = snapshot_events(
        {"a": ("v", "x")}, {"a": ("v", "ignored")}, host="h", when=0, name=_name
    )
    assert events == []


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = backoff_delays(1.0, 5.0)
    assert [next(delays) for _ in range(6)] == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def _emitter(*events: tuple[str, str]) -> list[str]:
    lines = [
        json.dumps({"time": i, "label": lbl, "event": ev}) for i, (lbl, ev) in enumerate(events)
    ]
    code = "import sys\nfor l in sys.argv[1:]: print(l, flush=True)\n"
    return [sys.executable, "-c", code, *lines]


def _collect(argvs: dict[str, list[str]], until: int) -> list[str]:
    out = io.StringIO()
    stop = threading.Event()

    def watch() -> None:
        while len(out.getvalue().splitlines()) < until:
            threading.Event().wait(0.05)
        stop.set()

    threading.Thread(target=watch, daemon=True).start()
    assert stream_targets(argvs, out, as_json=True, first_delay=0.05, stop=stop) == 0
    return out.getvalue().splitlines()


def test_merge_keeps_each_targets_order_and_names_its_host() -> None:
    argvs = {
        "h1": _emitter(("a", "START"), ("a", "STOP"), ("a", "RESUME")),
        "h2": _emitter(("b", "START"), ("b", "GONE")),
    }
    lines = [json.loads(x) for x in _collect(argvs, 7)]
    per_host = {
        h: [x["event"] for x in lines if x["host"] == h and x["label"]] for h in ("h1", "h2")
    }
    assert per_host["h1"][:3] == ["START", "STOP", "RESUME"]
    assert per_host["h2"][:2] == ["START", "GONE"]


def test_a_target_that_ends_is_reported_and_run_again() -> None:
    lines = [json.loads(x) for x in _collect({"h": _emitter(("a", "START"))}, 4)]
    events = [x["event"] for x in lines]
    assert events[:3] == ["START", "DISCONNECTED", "START"]
    assert "reconnecting" in lines[1]["detail"]


def test_a_missing_command_is_reported_again_and_again() -> None:
    lines = _collect({"h": ["/nonexistent/ctys-watch"]}, 2)
    assert all(json.loads(x)["event"] == "DISCONNECTED" for x in lines[:2])
