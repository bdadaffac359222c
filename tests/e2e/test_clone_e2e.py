"""ctys-cloneVM on the tiny guest's VM with a qcow2 disk: a linked and a full clone boot
under ctys with their own label, UUID and MAC, the source's disk stays unchanged (the linked
clone's disk is an overlay backed by it), ENUMERATE and ctys-vhost find the clones, and a
running VM is refused."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from support.rows import list_rows

SOURCE_MAC = "52:54:00:0c:10:0e"


def _tool(name: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name(name)), *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _img_info(path: Path) -> dict[str, object]:
    done = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout))


def _boot_and_check(ctys, env: dict[str, str], made: dict[str, object]) -> None:
    """Boot the clone, find our LIST row with its label and UUID, and its MAC on the qemu
    command line; stop it."""
    label = str(made["label"])
    done = ctys("-t", "QEMU", "-a", f"CREATE=l:{label},WAIT:guest#", "-b", "1", timeout=120)
    assert done.returncode == 0, done.stderr
    rows = list_rows(ctys, env["CTYS_RUNTIME_DIR"])
    assert [(r["LABEL"], r["UUID"], r["STATE"]) for r in rows] == [(label, made["uuid"], "running")]
    argv = Path(f"/proc/{rows[0]['PID']}/cmdline").read_bytes().decode()
    macs = made["macs"]
    assert isinstance(macs, dict)
    assert f"mac={macs['MAC0']}" in argv and SOURCE_MAC not in argv
    assert str(made["directory"]) in argv  # its own disk
    assert ctys("-t", "QEMU", "-a", f"CANCEL=l:{label}").returncode == 0


def test_linked_and_full_clones_boot_with_a_new_identity(ctys, make_vm, ctys_env) -> None:
    conf = make_vm("orig")
    disk = conf.parent / "orig.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "32M"], check=True)
    with conf.open("a") as fh:
        fh.write(f"#@#MAC0 = {SOURCE_MAC}\nHDDBOOTIMAGE=orig.qcow2\n")
    before = _digest(disk)
    vms = Path(ctys_env["CTYS_VMPATH"])

    linked = _tool("ctys-cloneVM", ctys_env, str(conf.parent), "--label=lnk", "--linked", "--json")
    assert linked.returncode == 0, linked.stderr
    lnk = json.loads(linked.stdout)
    full = _tool("ctys-cloneVM", ctys_env, "--label-old=orig", "--label=cpy", "--json")
    assert full.returncode == 0, full.stderr
    cpy = json.loads(full.stdout)
    print("ctys-cloneVM printed:", linked.stdout, full.stdout, sep="\n")
    assert lnk["directory"] == str(vms / "lnk") and cpy["directory"] == str(vms / "cpy")
    assert _img_info(vms / "lnk" / "lnk.qcow2")["backing-filename"] == str(disk)
    assert "backing-filename" not in _img_info(vms / "cpy" / "cpy.qcow2")
    assert lnk["uuid"] != cpy["uuid"]

    _boot_and_check(ctys, ctys_env, lnk)
    _boot_and_check(ctys, ctys_env, cpy)
    assert _digest(disk) == before  # the source's disk was only read

    # The clones are in the inventory (stored by ctys-cloneVM) and in a new scan.
    vhost = _tool("ctys-vhost", ctys_env, "-o", "L", "L:lnk")
    assert vhost.returncode == 0 and "lnk" in vhost.stdout, vhost.stderr
    listed = ctys("-t", "QEMU", "-a", "ENUMERATE=MACHINE", "-o", "LABEL,UUID,MAC")
    assert listed.returncode == 0, listed.stderr
    assert sorted(listed.stdout.splitlines()) == sorted([
        f"cpy;{cpy['uuid']};{cpy['macs']['MAC0']}",
        f"lnk;{lnk['uuid']};{lnk['macs']['MAC0']}",
        f"orig;{_uuid_of(conf)};{SOURCE_MAC}",
    ])  # fmt: skip

    # A running VM is refused (no snapshot named); nothing is written.
    assert ctys("-t", "QEMU", "-a", "CREATE=l:orig,WAIT:guest#", "-b", "1").returncode == 0
    refused = _tool("ctys-cloneVM", ctys_env, str(conf), "--label=busy")
    print("ctys-cloneVM on a running VM printed:", refused.stderr)
    assert refused.returncode == 1
    assert refused.stderr.startswith("ctys-cloneVM: VM orig is running (pid ")
    assert not (vms / "busy").exists()
    assert [p.name for p in vms.iterdir() if p.name.startswith(".")] == []
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:orig").returncode == 0


def _uuid_of(conf: Path) -> str:
    line = next(x for x in conf.read_text().splitlines() if x.startswith("#@#UUID = "))
    return line.removeprefix("#@#UUID = ")
