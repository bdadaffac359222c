"""CREATE's one start sequence, for every console kind: the VDE switch's lock is held until
qemu exists (a concurrent CANCEL's idle sweep cannot stop the switch under it), and the
foreground console (CLI0) takes the same steps as the daemonized ones."""

from __future__ import annotations

import io
import os
import shutil
import sys
from pathlib import Path

import pytest

from ctys.address.vmid import vm_id
from ctys.argscan import parse_action, scan_argv
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.create import run_create
from ctys.plugins.qemu.requests import parse_create
from ctys.plugins.qemu.vm.runtime import RuntimeDir

# A stand-in for qemu: it notes whether the switch's and the VM's start locks were free
# when it ran, then exits.
FAKE_QEMU = """#!{python}
import fcntl, os, sys
def state(path):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return "free"
    except BlockingIOError:
        return "held"
verdict = state({lock!r}) + " " + state({start_lock!r})
with open({note!r}, "w") as f:
    f.write(verdict + " " + " ".join(sys.argv[1:]))
"""


@pytest.mark.skipif(shutil.which("vde_switch") is None, reason="needs vde2")
def test_cli0_holds_the_vde_switch_lock_until_qemu_runs(
    ctys_env: dict[str, str], short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = RuntimeDir(Path(ctys_env["CTYS_RUNTIME_DIR"]))
    note = short_tmp / "note"
    fake = short_tmp / "qemu-system-x86_64"
    lock = runtime.root / "vde" / "lab.lock"
    conf = Path(ctys_env["CTYS_VMPATH"]) / "vde1.conf"
    start_lock = runtime.root / "locks" / f"{vm_id('vde1', conf)}.lock"
    fake.write_text(
        FAKE_QEMU.format(
            python=sys.executable, lock=str(lock), start_lock=str(start_lock), note=str(note)
        )
    )
    fake.chmod(0o755)
    (short_tmp / "vmlinuz").write_bytes(b"")
    conf.write_text(
        "#@#MAGICID-QEMU\n#@#LABEL = vde1\n#@#VDENET = lab\n"
        f"KERNEL={short_tmp / 'vmlinuz'}\nQEMUBIN={fake}\n"
    )
    req = parse_create(parse_action(f"CREATE=F:{conf},CONSOLE:CLI0"))
    out, err = io.StringIO(), io.StringIO()
    ctx = RunContext(scan_argv(["-t", "QEMU", "-a", "CREATE"]), out, err)
    try:
        run_create(req, ctx, runtime)
    finally:
        from ctys.plugins.qemu.net.vde import release_idle_switches

        release_idle_switches(runtime.root / "vde")
    verdict = note.read_text()
    # Neither a CANCEL's idle-switch sweep nor a second CREATE acts on the starting VM.
    assert verdict.startswith("held held"), verdict
    assert "lab.ctl" in verdict  # the qemu argv names the switch it plugs into
    assert not any(runtime.root.glob("vms/*"))  # the VM ended: its folder went
    assert os.listdir(runtime.root / "vde") in ([], ["lab.lock"])
