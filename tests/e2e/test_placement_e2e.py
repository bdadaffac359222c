"""CREATE without a target never starts a multipath VM a second time on another host
(issue 9, point 8): placement asks every candidate host where it runs first."""

from __future__ import annotations

import re
import time

import psutil
from sshhosts import SshHost

from ctys.guest.demo import write_demo_conf


def _qemus(host: SshHost) -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if cmd and "qemu-system" in cmd[0] and any(str(host.runtime) in a for a in cmd):
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc.pid)
            except psutil.Error:
                continue
    return found


def test_second_create_of_a_multipath_vm_is_refused_naming_the_host(
    rctys, ssh_hosts, guest, short_tmp
) -> None:
    shared = short_tmp / "nfs"
    write_demo_conf(shared / "both", guest, "both")
    hosts = {h.name: h for h in ssh_hosts(2, shared=(shared,))}
    assert rctys("-t", "QEMU", "-a", "ENUMERATE=TERSE", "hostA", "hostB").returncode == 0

    first = rctys("-t", "QEMU", "-a", "CREATE=l:both", "-b", "1", timeout=90)
    assert first.returncode == 0, first.stderr
    [runner] = [name for name, host in hosts.items() if _qemus(host)]
    assert len(_qemus(hosts[runner])) == 1

    # Whichever host is less loaded now, the VM is not started again anywhere.
    again = rctys("-t", "QEMU", "-a", "CREATE=l:both", "-b", "1", timeout=90)
    assert again.returncode != 0
    # (the pid as that host sees it: the test hosts have their own PID namespaces)
    said = again.stderr.splitlines()[-1]
    assert re.fullmatch(rf"ctys: VM both already runs on {runner} \(pid \d+\); use CONNECT", said)
    time.sleep(0.5)
    assert sum(len(_qemus(h)) for h in hosts.values()) == 1

    stop = rctys("-t", "QEMU", "-a", "CANCEL=l:both,FORCE", runner)
    assert stop.returncode == 0, stop.stderr
