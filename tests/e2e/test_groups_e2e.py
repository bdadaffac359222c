"""Host groups, macros and ``-- '(opts)'`` over real OpenSSH hosts (issue 13, point 4).

Every host is a real sshd on loopback with its own VM folder (``sshhosts.py``); ENUMERATE
boots nothing, so these tests run no guest: each member's own options show in which folders
its host scanned (the rows land in the local inventory).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sshhosts import SshHost

from ctys.plugins.qemu.demo.demovm import write_demo_conf
from ctys.plugins.qemu.images.build import GuestImage
from support.files import write_file
from support.procs import live_qemus

pytestmark = pytest.mark.e2e


def _rows(ctys_env: dict[str, str]) -> set[tuple[str, str]]:
    """(HOST, LABEL) of every row of the local inventory (``ctys-vhost -j``)."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from ctys.cli.vhost import main; sys.exit(main())",
         "-j", "-o", "HOST,LABEL"],
        env=ctys_env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:  # an empty inventory matches nothing
        return set()
    return {(r["HOST"], r["LABEL"]) for r in json.loads(done.stdout)}


def _vm(folder: Path, guest: GuestImage, label: str) -> None:
    write_demo_conf(folder / label, guest, label)


def _put(path: Path, text: str) -> Path:
    return write_file(path.parent, path.name, text, 0o600)


@pytest.fixture
def lab(ssh_hosts, guest, short_tmp: Path) -> tuple[SshHost, SshHost, Path, dict[str, str]]:
    """hostA (VM ``web``) and hostB (VM ``db`` in its VM folder, ``spare`` in a folder of
    its own outside it); a groups folder and a macros folder, and the environment naming
    them."""
    host_a, host_b = ssh_hosts(2)
    _vm(host_a.vms, guest, "web")
    _vm(host_b.vms, guest, "db")
    spare = short_tmp / "spare"
    _vm(spare, guest, "spare")
    env = {
        "CTYS_GROUPS_PATH": str(short_tmp / "groups"),
        "CTYS_MACRO_PATH": str(short_tmp / "macros"),
    }
    return host_a, host_b, spare, env


def test_a_group_reaches_each_member_with_its_own_options(rctys, ssh_hosts, ctys_env, lab) -> None:
    _, _, spare, env = lab
    user = ssh_hosts.user
    _put(
        Path(env["CTYS_GROUPS_PATH"]) / "lab" / "pair",
        f"# the lab\n{user}@hostA\nhostB'(-a ENUMERATE=TERSE,B:{spare})'  # spare only\n",
    )
    done = rctys("-t", "QEMU", "-a", "ENUMERATE=TERSE", "lab/pair", extra_env=env)
    assert done.returncode == 0, done.stderr
    # A row's HOST is the target as given (user@host): the member's user reached ssh.
    assert _rows(ctys_env) == {(f"{user}@hostA", "web"), ("hostB", "spare")}


def test_include_and_context_options_of_the_original_format(rctys, ctys_env, lab) -> None:
    _, _, spare, env = lab
    groups = Path(env["CTYS_GROUPS_PATH"])
    _put(groups / "b-spare", f"CONTEXT'(-a ENUMERATE=B:{spare})'\nhostB\n")
    _put(groups / "all", "hostA,\n#include b-spare\n")
    done = rctys("-t", "QEMU", "-a", "ENUMERATE", "all", extra_env=env)
    assert done.returncode == 0, done.stderr
    assert _rows(ctys_env) == {("hostA", "web"), ("hostB", "spare")}


def test_options_for_all_targets_then_a_targets_own(rctys, ctys_env, lab) -> None:
    _, _, spare, env = lab
    done = rctys(
        "-t", "QEMU", "-a", "ENUMERATE", "--", f"(-a ENUMERATE=B:{spare})",
        "hostA", "hostB(-a ENUMERATE)", extra_env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # hostA scanned only the folder of the options for all (nothing there on hostA's side
    # but the shared spare folder, which both hosts see); hostB its own VM folder.
    assert _rows(ctys_env) == {("hostA", "spare"), ("hostB", "db")}


def test_a_macro_gives_action_and_group(rctys, ctys_env, lab) -> None:
    _, _, spare, env = lab
    _put(Path(env["CTYS_GROUPS_PATH"]) / "pair", f"hostA\nhostB(-a ENUMERATE=B:{spare})\n")
    _put(
        Path(env["CTYS_MACRO_PATH"]) / "default",
        "epair=-t QEMU -a ENUMERATE {macro:who}\nwho=pair\n",
    )
    done = rctys("MACRO:epair%ECHO", extra_env=env)
    assert done.returncode == 0, done.stderr
    assert "MACRO:epair%ECHO = -t QEMU -a ENUMERATE pair" in done.stderr
    assert _rows(ctys_env) == {("hostA", "web"), ("hostB", "spare")}


def test_the_paste_format_of_ctys_groups_is_a_target_list(rctys, ctys_env, lab) -> None:
    _, _, spare, env = lab
    _put(Path(env["CTYS_GROUPS_PATH"]) / "pair", f"hostA\nhostB'(-a ENUMERATE=B:{spare})'\n")
    listed = subprocess.run(
        [sys.executable, "-c", "import sys; from ctys.cli.groups import main; sys.exit(main())",
         "-m", "4", "pair"],
        env={**ctys_env, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    done = rctys("-t", "QEMU", "-a", "ENUMERATE", *shlex.split(listed.stdout), extra_env=env)
    assert done.returncode == 0, done.stderr
    assert _rows(ctys_env) == {("hostA", "web"), ("hostB", "spare")}


@pytest.mark.parametrize(
    ("files", "mode", "message"),
    [
        ({"pair": "hostA\n#include other\n", "other": "hostB\n#include pair\n"}, 0o600,
         "ctys: group cycle: pair -> other -> pair"),
        ({"pair": "hostA\nhostB\n"}, 0o666, "ctys: refusing group file "),
        ({"pair": "hostA\n'-oProxyCommand=touch /tmp/x'\n"}, 0o600, "bad host"),
    ],
)  # fmt: skip
def test_a_bad_group_stops_the_command_before_any_host_is_asked(
    rctys, ctys_env, lab, files: dict[str, str], mode: int, message: str
) -> None:
    _, _, _, env = lab
    for name, text in files.items():
        _put(Path(env["CTYS_GROUPS_PATH"]) / name, text).chmod(mode)
    done = rctys("-t", "QEMU", "-a", "ENUMERATE", "pair", extra_env=env)
    assert done.returncode != 0
    [line] = done.stderr.splitlines()
    assert message in line
    assert _rows(ctys_env) == set()


# --- a real guest ---------------------------------------------------------------------------

PROMPT = "guest#"
# The rest of the original's line (root@lab02'(-a create=l:LAB02,reuse -c local
# -g 1268x992:A11:ALL -b 1,2 )'), used once these values are valid options here.
ORIGINAL_REST = ("-c", "local", "-g", "1268x992:A11:ALL", "-b", "1,2")


def _original_rest() -> str:
    from ctys.argscan import check_target_options
    from ctys.errors import UsageError

    try:
        check_target_options("probe", ORIGINAL_REST)
    except UsageError:
        return ""
    return " ".join(ORIGINAL_REST)


def test_a_group_line_of_the_originals_form_boots_and_cancels_a_real_guest(
    rctys, ssh_hosts, guest, lab
) -> None:
    host_a, host_b, _, env = lab
    user = ssh_hosts.user
    # hostB is no member: nothing may start there.
    _put(
        Path(env["CTYS_GROUPS_PATH"]) / "desktops" / "lab",
        "CONTEXT'(-b 1)'\n"
        f"{user}@hostA'(-a create=l:web,CONSOLE:CLI,WAIT:{PROMPT} {_original_rest()})'\n",
    )
    done = rctys("-t", "QEMU", "-a", "CREATE", "desktops/lab", extra_env=env, timeout=150)
    assert done.returncode == 0, done.stderr
    assert "web" in done.stdout and "started" in done.stdout, done.stdout
    assert len(live_qemus(str(host_a.runtime))) == 1
    assert live_qemus(str(host_b.runtime)) == []

    # The call site's options come after the member's own: its -a cancels what -a created.
    stop = rctys(
        "-t", "QEMU", "-a", "CANCEL=l:web", "desktops/lab(-a cancel=l:web,TIMEOUT:20)",
        extra_env=env, timeout=90,
    )  # fmt: skip
    assert stop.returncode == 0, stop.stderr
    deadline = time.monotonic() + 15
    while live_qemus(str(host_a.runtime)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert live_qemus(str(host_a.runtime)) == []
