"""VM-STACK: a hypervisor VM is cancelled inside out. The VM ``hv1`` runs here; its
"inside" is the ssh test host ``hostA`` (named by ``#@#STACKHOST``), where an inner guest
runs. The tiny guest cannot run ctys itself, so the nested host is an sshd test host;
the stack logic (inner CANCEL=ALL over ssh first, then the VM) is the real one."""

from __future__ import annotations

from pathlib import Path

import pytest
from sshhosts import SshHosts

from ctys.plugins.qemu.demo.demovm import write_demo_conf
from ctys.plugins.qemu.images.build import GuestImage
from support.rows import list_rows

pytestmark = pytest.mark.e2e


def _running(rctys, runtime: str | Path, *targets: str) -> set[str]:
    """Labels of the VMs in ``runtime`` (the test's or a test host's) that LIST shows."""
    return {str(row["LABEL"]) for row in list_rows(rctys, runtime, *targets)}


def _hypervisor(make_vm, inner_target: str) -> Path:
    conf = make_vm("hv1")
    with conf.open("a") as fh:
        fh.write(f"#@#STACKCAP = QEMU\n#@#STACKHOST = {inner_target}\n")
    return conf


def test_cancel_of_a_hypervisor_cancels_its_inner_vms_first(
    rctys, make_vm, ssh_hosts: SshHosts, guest: GuestImage, ctys_env
) -> None:
    [host] = ssh_hosts(1)
    write_demo_conf(host.vms / "inner", guest, "inner")
    assert (
        rctys("-t", "QEMU", "-a", "CREATE=l:inner,WAIT:guest#", "-b", "1", host.name).returncode
        == 0
    )
    _hypervisor(make_vm, host.name)
    assert rctys("-t", "QEMU", "-a", "CREATE=l:hv1,WAIT:guest#", "-b", "1").returncode == 0
    assert _running(rctys, host.runtime, host.name) == {"inner"}

    done = rctys("-t", "QEMU", "-a", "CANCEL=l:hv1,TIMEOUT:20")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    stack = lines.index(f"hv1: VM-STACK: cancelling the VMs inside it on {host.name} first")
    inner = next(i for i, line in enumerate(lines) if "inner: powered off by the guest" in line)
    outer = next(i for i, line in enumerate(lines) if line.startswith("hv1: powered off"))
    assert stack < inner < outer, lines
    assert _running(rctys, host.runtime, host.name) == set()
    assert "hv1" not in _running(rctys, ctys_env["CTYS_RUNTIME_DIR"])


def test_unreachable_inner_host_keeps_the_hypervisor_up_unless_forced(
    rctys, make_vm, ssh_hosts: SshHosts, ctys_env
) -> None:
    dead = ssh_hosts.refusing()
    _hypervisor(make_vm, dead)
    assert rctys("-t", "QEMU", "-a", "CREATE=l:hv1,WAIT:guest#", "-b", "1").returncode == 0

    done = rctys("-t", "QEMU", "-a", "CANCEL=l:hv1,TIMEOUT:5")
    assert done.returncode == 1
    assert f"hv1: not cancelled: the VMs inside it on {dead} could not be cancelled" in done.stderr
    assert "hv1" in _running(rctys, ctys_env["CTYS_RUNTIME_DIR"])

    # FORCE: no propagation to the (unreachable) inside; the VM itself powers off.
    forced = rctys("-t", "QEMU", "-a", "CANCEL=l:hv1,FORCE")
    assert forced.returncode == 0, forced.stderr
    assert "VM-STACK" not in forced.stdout
    assert forced.stdout.startswith("hv1: powered off by the guest (ACPI)"), forced.stdout
    assert "hv1" not in _running(rctys, ctys_env["CTYS_RUNTIME_DIR"])
