"""``ctys-vdeplug NAME [ORIGIN]``: the remote end of a VDE link (``ctys.plugins.qemu.net.vdelink``).

Run by ssh on the peer host, its stdin/stdout the ssh channel. It starts the managed switch
``NAME`` in this user's runtime dir when none runs (the same switch a local ``VDENET =
NAME`` uses), plugs ``vde_plug`` into it with the channel as its stdin/stdout, says
``ctys-vdeplug: plugged in <this switch's identity>`` on stderr, and waits. ``ORIGIN`` is
the identity of the switch at the other end (``vdelink.incoming_links`` finds it in this
process's argv). When the channel closes (the link was
stopped, the connection dropped) or a stop signal comes, vde_plug goes and so does the
switch, unless a VM here still uses it: nothing is left behind.

Exit status: vde_plug's; 2 for bad usage, 1 when the switch cannot be had. Errors are one
line ``ctys-vdeplug: ...`` on stderr (the local side shows it). Not a user command: the
console script names this module; nothing imports it.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Sequence

from ctys.errors import CtysError
from ctys.plugins.qemu.net.network import NetworkError, check_switch_name, vde_dir
from ctys.plugins.qemu.net.vde import VdeSwitch, release_idle_switches, switches_up
from ctys.plugins.qemu.net.vdelink import REMOTE_HELPER, check_switch_id, ready_line, switch_id
from ctys.rundir import runtime_root
from ctys.stopsignals import stop_signals_raise


def main(argv: Sequence[str] | None = None) -> int:
    """Plug the ssh channel into the switch named by the one argument; the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) not in (1, 2):
        print(
            f"usage: {REMOTE_HELPER} NAME [ORIGIN] (the remote end of a VDE link)",
            file=sys.stderr,
        )
        return 2
    try:
        name = check_switch_name(args[0])
        if len(args) == 2:
            check_switch_id(args[1])
    except (NetworkError, ValueError) as exc:
        print(f"{REMOTE_HELPER}: {exc}", file=sys.stderr)
        return 2
    try:
        with stop_signals_raise():
            return _serve(name)
    except KeyboardInterrupt:
        return 0
    except CtysError as exc:
        print(f"{REMOTE_HELPER}: {exc}", file=sys.stderr)
        return 1


def _serve(name: str) -> int:
    plug = shutil.which("vde_plug")
    if plug is None:
        raise CtysError("vde_plug is not installed here (Debian: apt-get install vde2)")
    directory = vde_dir(runtime_root())
    switch = VdeSwitch(name, directory)
    child: subprocess.Popen[bytes] | None = None
    try:
        # Plugged in under the switch's lock: no idle sweep stops it in between (from then
        # on vde_plug's command line names the switch, so it is in use).
        with switches_up([name], directory):
            child = subprocess.Popen([plug, str(switch.ctl)])
            ident = switch_id(directory, name)
        print(ready_line(ident), file=sys.stderr, flush=True)
        return child.wait()
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(5)
            if child.poll() is None:
                child.kill()
                child.wait()
        with contextlib.suppress(CtysError, OSError):
            release_idle_switches(directory)
