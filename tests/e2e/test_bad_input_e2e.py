"""Bad input that gets as far as qemu's exec: one ``ctys:`` line, and nothing changed — the
VM folder and the inventory hash the same, no runtime folder and no qemu left, asserted in
the test itself. (Bad input refused before qemu runs: tests/unit/test_bad_input_matrix.py.)"""

from __future__ import annotations

from pathlib import Path

from support.cli import Ctys
from support.files import tree_hash
from support.procs import live_qemu_pids

CONF = """\
#@#MAGICID-QEMU
#@#LABEL = {label}
#@#ACCELERATOR = TCG
KERNEL={kernel}
"""


def test_one_megabyte_line_reaches_qemu_and_fails_cleanly(
    ctys: Ctys, ctys_env: dict[str, str]
) -> None:
    # Just under the conf size limit: parsed fine, but no kernel takes a 1 MB command line
    # and exec refuses an argument that long.
    vmdir = Path(ctys_env["CTYS_VMPATH"])
    inventory = Path(ctys_env["CTYS_INVENTORY"])
    runtime = Path(ctys_env["CTYS_RUNTIME_DIR"])
    kernel = vmdir / "vmlinuz"
    kernel.write_bytes(b"not really a kernel")
    (vmdir / "wide").mkdir()
    body = CONF.format(label="wide", kernel=kernel) + 'APPEND="' + "a" * 1_000_000 + '"\n'
    (vmdir / "wide" / "wide.conf").write_text(body)
    before = tree_hash(vmdir, inventory)

    done = ctys("-t", "QEMU", "-a", "CREATE=l:wide", "-b", "1")

    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ctys: "), done.stderr
    assert "Argument list too long" in lines[0]
    assert "Traceback" not in done.stderr
    assert tree_hash(vmdir, inventory) == before, "the VM folder or inventory changed"
    assert not list((runtime / "vms").glob("*")), "a runtime folder was left behind"
    assert live_qemu_pids(str(runtime)) == []
