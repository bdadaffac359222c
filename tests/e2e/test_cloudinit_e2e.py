"""cloud-init end to end: the real guest's cloud variant (Debian 12 + cloud-init, NoCloud
only, no baked key, a placeholder host name) boots with the seed ``#@#CLOUDINIT = AUTO``
builds from ``#@#HOSTNAME`` and ``#@#SSHKEY``; the host name and the key are applied on
first boot. Booted: once (under the one-real-guest lock).
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from ctys.plugins.qemu.images.realsystem import (
    CLOUD,
    RealGuestImage,
    build_real_guest,
    cached_image,
)
from support.cli import run_ctys
from support.realguest import real_guest_folder

#: cloud-init's four stages are Python programs: under TCG they take minutes, not seconds.
SSH_TIMEOUT = 600.0
#: Debian's cloud.cfg: the default user the seed's ``ssh_authorized_keys`` go to.
DEFAULT_USER = "debian"

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def cloud_image() -> RealGuestImage:
    """The cloud variant, built once per machine (``.ci/run`` builds it with the base)."""
    found = cached_image(variant=CLOUD)
    if found is not None:
        return found
    if os.geteuid() != 0:
        pytest.skip("the cloud guest is not built and building it needs root")
    return build_real_guest(variant=CLOUD)


def _ssh(key: Path, port: int, *command: str) -> subprocess.CompletedProcess[str]:
    argv = ["ssh", "-i", str(key), "-p", str(port),
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5",
            "-o", "IdentitiesOnly=yes", f"{DEFAULT_USER}@127.0.0.1", *command]  # fmt: skip
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False
    )


def test_the_seed_sets_the_host_name_and_the_key_on_first_boot(
    cloud_image: RealGuestImage,
) -> None:
    assert not cloud_image.key.exists()  # the variant bakes no key: only the seed's can work
    host = f"ci-{uuid.uuid4().hex[:10]}"
    with real_guest_folder(cloud_image, "cloud1", guest_agent=True) as folder:
        key = folder.root / "id_test"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ctys-ci-test",
                        "-f", str(key)], check=True)  # fmt: skip
        conf = Path(folder.env["CTYS_VMPATH"], "cloud1", "cloud1.conf")
        with conf.open("a") as fh:
            fh.write(f"#@#CLOUDINIT = AUTO\n#@#HOSTNAME = {host}\n#@#SSHKEY = {key}.pub\n")
        [vm_uuid] = [ln.split("=", 1)[1].strip() for ln in conf.read_text().splitlines()
                     if ln.startswith("#@#UUID")]  # fmt: skip
        started = time.monotonic()
        done = run_ctys("-t", "QEMU", "-a", "CREATE=l:cloud1,BOOTMODE:HDD", "-b", "1",
                        env=folder.env, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        seeds = list(Path(folder.env["XDG_CACHE_HOME"], "ctys", "seeds").glob("*.iso"))
        assert len(seeds) == 1
        deadline = started + SSH_TIMEOUT
        while True:  # sshd answers before cloud-init has written the key: 255 until then
            login = _ssh(key, folder.port, "hostname")
            if login.returncode != 255 or time.monotonic() > deadline:
                break
            time.sleep(2)
        print(f"cloud1: CREATE -> ssh login with the seed's key {time.monotonic() - started:.1f}s")
        assert login.returncode == 0, login.stderr
        assert login.stdout.strip() == host
        facts = _ssh(key, folder.port,
                     "cloud-init status --wait >/dev/null; cloud-init status;"
                     " cat /var/lib/cloud/data/instance-id;"
                     " cat ~/.ssh/authorized_keys; cat /etc/hostname")  # fmt: skip
        assert facts.returncode == 0, facts.stdout + facts.stderr
        lines = facts.stdout.splitlines()
        if lines[0] != "status: done":  # say which module failed
            why = _ssh(key, folder.port, "cloud-init status --long")
            print(why.stdout, why.stderr)
        assert lines[0] == "status: done"  # no module failed
        assert lines[1] == vm_uuid  # the instance is the seed's: meta-data from the conf
        assert lines[2:] == [Path(f"{key}.pub").read_text().strip(), host]
        # The image's own DHCP unit and cloud-init's rendered one do not fight: the NIC
        # is configured by cloud-init's (10-cloud-init-*), the image's (50-) is unused.
        # The default user's sudo rule is cloud-init's too.
        links = _ssh(key, folder.port, "sudo -n cat /run/systemd/netif/links/*")
        assert links.returncode == 0, links.stderr
        files = [ln for ln in links.stdout.splitlines() if ln.startswith("NETWORK_FILE=")]
        assert len(files) == 1 and "/10-cloud-init-" in files[0], links.stdout
