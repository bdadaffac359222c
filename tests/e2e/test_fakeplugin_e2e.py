"""The plugin boundary over real ssh: ``ctys -t FAKE -a LIST hostA hostB`` fans out to two
sshd test hosts, each runs the test-only FAKE plugin (``tests/fakeplugin``, registered by
its entry point only), and the core hands their rows to FAKE to merge. No VM is booted."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sshhosts import SshHosts

from support.cli import run_ctys

FAKEPLUGIN = Path(__file__).resolve().parents[1] / "fakeplugin"


def test_fake_list_on_two_ssh_hosts_is_merged(
    ctys_env: dict[str, str], ssh_hosts: SshHosts
) -> None:
    host_a, host_b = ssh_hosts(2)
    # The hosts' sshd passes no PYTHONPATH: the remote ctys command sets it.
    remote = f"env PYTHONPATH={FAKEPLUGIN} {ssh_hosts.ctys_bin}"
    env = {
        **ctys_env,
        **ssh_hosts.remote_env,
        "CTYS_REMOTE_CTYS": remote,
        "PYTHONPATH": str(FAKEPLUGIN),
    }

    def ctys(*args: str) -> subprocess.CompletedProcess[str]:
        return run_ctys(*args, env=env, timeout=90)

    done = ctys("-t", "FAKE", "-a", "LIST", host_a.name, host_b.name)
    assert (done.returncode, done.stderr) == (0, "")
    # Each host's rows name the host that made them (its CTYS_HOSTNAME, set by its sshd).
    assert done.stdout.splitlines() == [
        "HOST PET SOUND",
        "hostA cat-of-hostA meow",
        "hostA dog-of-hostA woof",
        "hostB cat-of-hostB meow",
        "hostB dog-of-hostB woof",
    ]
    done = ctys("-t", "FAKE", "-a", "LIST=JSON", host_a.name, host_b.name)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {(r["HOST"], r["PET"]) for r in rows} == {
        (h, f"{pet}-of-{h}") for h in ("hostA", "hostB") for pet in ("cat", "dog")
    }
