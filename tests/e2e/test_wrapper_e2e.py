"""CREATE=…,WRAPPER on a real guest: an original-style 01.11 folder (``NAME.ctys`` keys +
``NAME.sh`` wrapper written here in the original template's manner) is booted through its
wrapper; LIST shows the qemu the wrapper started as managed, CANCEL stops it. Without
WRAPPER the same folder boots from its conf and ctys says the wrapper was not run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psutil
import pytest

from ctys.plugins.qemu.demo.demovm import kernel_append
from ctys.plugins.qemu.images.build import GuestImage
from support.cli import Ctys
from support.rows import list_rows

CONF = """\
#@#MAGICID-QEMU
#@#LABEL                     = "wrap1"
#@#UUID                      = "2d1c0b9a-8e7f-4a6b-9c5d-1e2f3a4b5c6d"
#@#MAC0                      = "52:54:00:0e:12:01"
#@#VMSTATE                   = "ACTIVE"
ACCELERATOR=QEMU
STARTERCALL=qemu-system-x86_64
MEMSIZE=256
KERNELIMAGE='{kernel}'
INITRDIMAGE='{initrd}'
APPEND='{append}'
"""

# The original's template.QEMU.sh in miniature: the same options, sources NAME.ctys,
# assembles EXECALL with ARGSADD and evals it, daemonized for CLI/VNC; --check runs nothing.
WRAPPER = r"""#!/bin/bash
CTYSWRAPPERPATH=$(dirname "$0")
MYCALLNAME=$(basename "$0")
cd "${CTYSWRAPPERPATH}" || exit 1
. "${CTYSWRAPPERPATH}/${MYCALLNAME%%.sh}.ctys"
_check=0
while [ -n "$1" ]; do
    case $1 in
        '--check') _check=1;;
        '--vncaccessdisplay='*) VNCACCESSDISPLAY=${1#*=};;
        '--bootmode='*) BOOTMODE=${1#*=};;
        '--console='*) CONSOLE=${1#*=};;
        '--instmode='*) INSTMODE=${1#*=};;
        '--kernelmode='*) KERNELMODE=${1#*=};;
        '--argsadd='*) ARGSADD="${ARGSADD} ${1#*=}";;
        -*) echo "ERROR:Erroneous parameter:${1}" >&2; exit 1;;
    esac
    shift
done
echo "$*" "CONSOLE=$CONSOLE VNC=$VNCACCESSDISPLAY CHECK=$_check" >> "${CTYSWRAPPERPATH}/calls.log"
EXECALL="${STARTERCALL} -name ${LABEL:-wrap1} -m ${MEMSIZE} -accel tcg -nic none"
EXECALL="${EXECALL} -kernel ${KERNELIMAGE} -initrd ${INITRDIMAGE} -append '${APPEND}'"
case ${CONSOLE} in
    CLI|VNC) EXECALL="${EXECALL} -daemonize -vnc 127.0.0.1:${VNCACCESSDISPLAY} ${ARGSADD}";;
    *) echo "ERROR:Unknown display --console=${CONSOLE}" >&2; exit 127;;
esac
if [ "$_check" == "0" ]; then
    eval "${EXECALL}"
fi
"""


def _folder(root: Path, guest: GuestImage) -> Path:
    folder = root / "wrap1"
    folder.mkdir()
    (folder / "wrap1.ctys").write_text(
        CONF.format(kernel=guest.kernel, initrd=guest.initrd, append=kernel_append())
    )
    script = folder / "wrap1.sh"
    script.write_text(WRAPPER)
    script.chmod(0o755)
    return folder


def _create(
    ctys: Ctys, env: dict[str, str], guest: GuestImage, subopts: str
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A fresh wrap1 folder and ``CREATE=l:wrap1,<subopts>`` on it."""
    folder = _folder(Path(env["CTYS_VMPATH"]), guest)
    return folder, ctys("-t", "QEMU", "-a", f"CREATE=l:wrap1,{subopts}", "-b", "1")


def test_a_guest_booted_through_its_wrapper_is_listed_and_cancelled(
    ctys, guest: GuestImage, ctys_env: dict[str, str]
) -> None:
    folder, done = _create(ctys, ctys_env, guest, "WRAPPER,CONSOLE:CLI,WAIT:guest#")
    assert done.returncode == 0, done.stderr
    assert "started by its wrapper wrap1.sh" in done.stdout
    calls = (folder / "calls.log").read_text().splitlines()
    # --check first, then the real call; both with the original's options.
    assert [c.rsplit("CHECK=", 1)[1] for c in calls] == ["1", "0"]
    assert calls[0].split()[0] == "CONSOLE=CLI"
    rows = list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"])
    assert [(r["LABEL"], r["STATE"]) for r in rows] == [("wrap1", "running")]
    pid = int(str(rows[0]["PID"]))
    # The qemu is the wrapper's (daemonized by it), carrying ctys's monitor socket.
    cmdline = psutil.Process(pid).cmdline()
    assert "-daemonize" in cmdline
    assert any(a.startswith(f"unix:{ctys_env['CTYS_RUNTIME_DIR']}") for a in cmdline)
    cancel = ctys("-t", "QEMU", "-a", "CANCEL=l:wrap1")
    assert cancel.returncode == 0, cancel.stderr
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert list_rows(ctys, ctys_env["CTYS_RUNTIME_DIR"]) == []


def test_without_wrapper_the_conf_boots_and_the_wrapper_is_not_run(
    ctys, guest: GuestImage, ctys_env: dict[str, str]
) -> None:
    folder, done = _create(ctys, ctys_env, guest, "CONSOLE:CLI,WAIT:guest#")
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "wrapper" in line]
    assert notes == [
        f"ctys: wrap1: wrapper {folder / 'wrap1.sh'} not run; the qemu call is built from"
        " the conf (CREATE=…,WRAPPER runs it)"
    ]
    assert not (folder / "calls.log").exists()
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:wrap1").returncode == 0


def test_a_wrapper_others_may_write_is_not_run(
    ctys, guest: GuestImage, ctys_env: dict[str, str]
) -> None:
    folder = _folder(Path(ctys_env["CTYS_VMPATH"]), guest)
    os.chmod(folder / "wrap1.sh", 0o777)
    done = ctys("-t", "QEMU", "-a", "CREATE=l:wrap1,WRAPPER,CONSOLE:CLI", "-b", "1")
    assert done.returncode != 0
    assert "writable by group or others (mode 777); not run" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (folder / "calls.log").exists()


def test_a_vnc_guest_through_its_wrapper_is_reached_by_connect(
    ctys, guest: GuestImage, ctys_env: dict[str, str]
) -> None:
    folder, done = _create(ctys, ctys_env, guest, "WRAPPER,CONSOLE:VNC")
    assert done.returncode == 0, done.stderr
    display = int((folder / "calls.log").read_text().split("VNC=")[-1].split()[0])
    # The display ctys handed the wrapper is the one its qemu serves and CONNECT names.
    port = 5900 + display
    assert f"VNC 127.0.0.1:{port} (display :{display})" in done.stdout
    connect = ctys("-t", "QEMU", "-a", "CREATE=l:wrap1,CONNECT,CONSOLE:VNC")
    assert connect.returncode == 0, connect.stderr
    assert connect.stdout.strip() == f"wrap1: VNC 127.0.0.1:{port}"
    assert ctys("-t", "QEMU", "-a", "CANCEL=l:wrap1").returncode == 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # --check fails: its last stderr line is in the one error, nothing is started.
        (("'--check') _check=1;;", "'--check') echo 'ERROR:Missing HDD' >&2; exit 3;;"),
         "--check failed (exit 3): ERROR:Missing HDD"),
        # A wrapper that drops --argsadd (here: starts nothing) cannot be managed.
        (('eval "${EXECALL}"', "true"),
         "ended without starting a qemu with ctys's monitor (does it pass --argsadd on"),
    ],
)  # fmt: skip
def test_a_failing_wrapper_is_one_error_and_leaves_nothing(
    ctys, guest: GuestImage, ctys_env: dict[str, str], edit: tuple[str, str], message: str
) -> None:
    folder = _folder(Path(ctys_env["CTYS_VMPATH"]), guest)
    script = folder / "wrap1.sh"
    script.write_text(script.read_text().replace(*edit))
    done = ctys("-t", "QEMU", "-a", "CREATE=l:wrap1,WRAPPER,CONSOLE:CLI", "-b", "1")
    assert done.returncode == 1
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert list((Path(ctys_env["CTYS_RUNTIME_DIR"]) / "vms").iterdir()) == []
