"""The "rows of this test only" helper every e2e test asserts LIST output with."""

from __future__ import annotations

from support.rows import own_rows


def test_own_rows_keeps_this_tests_vms_and_drops_others_with_the_same_label() -> None:
    runtime = "/tmp/ctabc/rt"
    rows = [
        # ours: managed, its sockets in our runtime dir
        {"LABEL": "vm1", "PID": 1, "QMP": f"{runtime}/vms/vm1-1/qmp.sock", "CONSOLE": None},
        # the demo VM and a hand-started qemu with our label: not ours
        {"LABEL": "demo", "PID": 2, "QMP": "/tmp/ctys-0/vms/demo-2/qmp.sock"},
        {"LABEL": "vm1", "PID": 3, "QMP": None, "CONSOLE": None, "VNC": None},
        # another test's runtime dir whose name starts like ours
        {"LABEL": "vm1", "PID": 4, "QMP": f"{runtime}2/vms/vm1-4/qmp.sock"},
        # ours by its VNC socket only, and a bare qemu the test started (by pid)
        {"LABEL": "v", "PID": 5, "QMP": None, "VNC": f"unix:{runtime}/vms/v-5/vnc.sock"},
        {"LABEL": "bare", "PID": 6, "QMP": "/elsewhere/qmp.sock"},
    ]
    assert [r["PID"] for r in own_rows(rows, runtime, pids={6})] == [1, 5, 6]
    assert own_rows(rows, "/tmp/nothing-here") == []
