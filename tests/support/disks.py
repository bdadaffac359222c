"""A blank data disk for a test VM's conf (the e2e tests of SUSPEND and SNAPSHOT)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def with_disk(conf: Path, fmt: str, diskif: str | None = None) -> Path:
    """Give the VM of ``conf`` a blank 16M disk (``HDA``) of format ``fmt``, attached as
    ``diskif`` (``virtio``: the guest's ``/dev/vda``) when given."""
    disk = conf.with_name(f"{conf.stem}.{fmt}")
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt, str(disk), "16M"], check=True)
    with conf.open("a") as fh:
        fh.write(f"HDA={disk}\nQEMU_IMG={fmt}\n")
        if diskif:
            fh.write(f"#@#DISKIF = {diskif}\n")
    return disk
