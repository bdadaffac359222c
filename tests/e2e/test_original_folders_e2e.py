"""An original ctys 01.11 VM folder (``NAME.ctys`` with shell code + ``NAME.sh`` wrapper) is
enumerated and booted by its label: ENUMERATE, CREATE, LIST, CANCEL on the real guest."""

from __future__ import annotations

from pathlib import Path

from ctys.plugins.qemu.demo.demovm import kernel_append
from ctys.plugins.qemu.images.build import GuestImage
from support.rows import list_rows

CTYS_0111 = """\
#@#MAGICID-QEMU
#@#LABEL                     = "orig1"
#@#SESSIONTYPE               = "QEMU"
#@#UUID                      = "0b6f2f8e-4d7c-4a5e-9a8e-3c1f0e2d7b99"
#@#IP0                       = "10.0.2.15%255.255.255.0%%eth0%22%10.0.2.2"
#@#MAC0                      = "52:54:00:0e:11:01"
#@#DIST                      = "Busy Box"
#@#VMSTATE                   = "ACTIVE"
ACCELERATOR=${{ACCELERATOR:-QEMU}}
case ${{ACCELERATOR}} in
    KVM) STARTERCALL=${{STARTERCALL:-qemu-kvm}};;
esac
MEMSIZE=${{MEMSIZE:-256}}
KERNELIMAGE='{kernel}'
INITRDIMAGE='{initrd}'
APPEND='{append}'
"""


def test_a_0111_folder_is_enumerated_and_booted_by_label(
    ctys, guest: GuestImage, ctys_env: dict[str, str]
) -> None:
    folder = Path(ctys_env["CTYS_VMPATH"]) / "orig1"
    folder.mkdir()
    conf = folder / "orig1.ctys"
    conf.write_text(
        CTYS_0111.format(kernel=guest.kernel, initrd=guest.initrd, append=kernel_append())
    )
    (folder / "orig1.sh").write_text('#!/bin/bash\n. "${CTYSWRAPPERPATH}/orig1.ctys"\n')

    done = ctys("-t", "QEMU", "-a", "ENUMERATE=MACHINE", "-o", "LABEL,PNAME,MAC,TCP,DIST,MODE")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"orig1;{conf};52:54:00:0e:11:01;10.0.2.15;Busy_Box;sh+ctys"
    ]
    assert ctys("-t", "QEMU", "-a", "CREATE=l:orig1,WAIT:guest#", "-b", "1").returncode == 0
    rows = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
    assert [(r["LABEL"], r["STATE"]) for r in rows] == [("orig1", "running")]
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:orig1").returncode == 0
