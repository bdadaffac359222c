"""The QEMU plugin: ``QemuPlugin`` maps ctys actions to the QEMU actions; the package holds
every QEMU rule: ``actions/`` (one module per action), ``requests`` (typed requests),
``boot/`` (argv, boot media, INSTMODE, preflight), ``host/`` (detection, KVM probe),
``net/`` (NICs, VDE, guest IP), ``vm/`` (lifecycle, QMP/HMP, runtime records, processes),
``vnc``/``vncaddr``, ``newconf/`` (new conf files and the ``ctys-createConfVM`` command),
``confs/`` (a conf → ``VmConfig``; how the core finds QEMU's VMs: ``MAGICID-QEMU``,
``describe``), ``vmconfig`` (``VmConfig``, ``Accelerator``: QEMU's VM as its conf
describes it).

Loaded by ``ctys.plugins.registry`` (entry point ``ctys.plugins``, or its module name as a
string); nothing outside this package imports it. Layers inside (checked by
``lint-imports``): actions → vnc | newconf → requests → boot → confs → host | net | vncaddr
→ vm | vmconfig; all may import the core."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ctys.plugins.qemu.confs.reader import QemuConfs

if TYPE_CHECKING:
    # Annotations only: the package stays cheap to import for the lean LIST rows entry
    # (``rowsentry``), which loads no invocation, argument scanner or plugin protocol.
    from ctys.invocation import ActionCall
    from ctys.plugins.base import Forwarding, MergedAction, Placement, Plugin, RunContext
    from ctys.plugins.subopts import SuboptionSpec

_ACTIONS: dict[str, str] = {
    "CREATE": "boot a VM (BOOTMODE, KERNEL, CONSOLE, ARGSADD; CONNECT/REUSE attach)",
    "CANCEL": "stop a VM: POWEROFF|S5, REBOOT, RESET, INIT, PAUSE|S3, SUSPEND|S4 (saved)",
    "LIST": "running QEMU VMs here (or the targets, one table with HOST); ALLVMS: stopped too",
    "ENUMERATE": "scan folders for VM conf files, report them and fill the inventory",
    "INFO": "this host's qemu binaries, accelerators, KVM verdict; INFO=<address>: one VM",
    "SHOW": "this host's load, memory and running VMs with their CPU and memory use",
    "GETCLIENTPORT": "the VNC port of a running VM: CLIENTPORT(QEMU,<host>,<arg>)=<port>",
    "ISACTIVE": "whether a VM runs here: ISACTIVE(QEMU,<id>)=0 (it runs) or 1",
    "WATCH": "VM lifecycle events as they happen (START, STOP, RESUME, GONE...), until Ctrl-C",
    "SNAPSHOT": "a VM's qcow2 snapshots: CREATE:NAME, LIST (default), APPLY:NAME, DELETE:NAME",
}

_HELP = """\
QEMU plugin actions:
  -a CREATE=<address>[,BOOTMODE:CD|DVD|FDD|HDD|VHDD|USB|KERNEL[%PATH]
            |PXE[%TFTPROOT[%BOOTFILE]]]
            [,KERNEL:IMG[%INITRD[%APPEND]]][,CONSOLE:VNC[:PORT]|NONE|CLI|CLI0|SDL|XTERM|GTERM
            |EMACS|EMACSM|EMACSA|EMACSAM][,ARGSADD:[S%]ARG[%ARG...]]
            [,CONNECT|REUSE|RECONNECT|RESUME][,FORCE][,WAIT:TEXT[%SECONDS]][,WAITS:S][,WAITC:S]
            [,PING:ON|OFF|CNT%SLEEP][,SSHPING:ON|OFF|CNT%SLEEP][,USER:LOGIN]
            [,CALLOPTS|C:OPT[%OPT..]][,XOPTS|X:OPT[%OPT..]]
            [,STACKCHECK:OFF|[NO]HWCAP%[NO]STACKCAP%[NO]CONTEXT]
            [,INSTMODE:SRCMODE%SRCPATH|default%TGTMODE%TGTPATH|default%INIT|word]
            [,VNCBIND:ADDR][,VNCPASS:ENV%VARIABLE|FILE%PATH][,WRAPPER] (-n: the argv)
     Defaults: the conf's DEFAULTCONSOLE, else VNC (a private UNIX socket); its
           DEFAULTBOOTMODE, else VHDD. NONE: headless. VNC:PORT: that TCP port, password.
     CONNECT: attach to the running VM's console, never boot; REUSE: attach, else boot.
     RECONNECT: close its viewers/console attachers, then CONNECT.
     A held serial console is refused naming its attacher; FORCE takes it over (the other
           is told and detached). CONNECT first shows the console's last lines.
     PING/SSHPING: wait after the start until the guest answers ping (#@#IP) / ssh as
           USER (HOSTFWD or #@#IP; 20 tries 2s apart); WAITS/WAITC: sleep after the
           start / before the viewer. CALLOPTS/XOPTS: words for the viewer/terminal.
     RESUME: continue a paused VM (CANCEL PAUSE), restore a suspended one (SUSPEND).
     WAIT: return once the console printed TEXT (fail after SECONDS, default 120; at
           once when the VM enters QEMU's internal-error state).
     INSTMODE: boot an installer medium against a target disk (INIT: a fresh target).
     WRAPPER: run the VM's wrapper script (NAME.sh/NAME.ctys) instead of building the call.
     PXE%TFTPROOT: QEMU's user-mode TFTP serves the folder (boot file default pxelinux.0,
           conf default #@#TFTPROOT); a VDE/tap/bridge NIC boots from the LAN's PXE server.
     KERNEL arguments with commas: console=ttyS0,,115200 (',,' or '\\,' is one comma).
  -a CANCEL=<address>|ALL[,FORCE|STACK][,SELF[:HOST]][,RESET|REBOOT|INIT:<n>|PAUSE|S3
            |SUSPEND|S4|POWEROFF|S5[:SECONDS]][,CLIENT|SERVER|BOTH][,TIMEOUT:SECONDS]
            [,USER:NAME][,MACHINE]   (docs/cli.md "### CANCEL"; default wait 20 s)
     SUSPEND|S4 saves the VM's state (savevm S4 in qcow2, else NAME.S4.vmstate beside
     the conf) and ends qemu; CREATE=...,RESUME restores it. FORCE: no VM-STACK
     propagation. SELF takes this host down last: SELF:HOSTNAME (or type it on a tty).
  -a LIST[=<field>...|ALL|MAXKEY|NONE][,TERSE|MACHINE|JSON][,TITLE|TITLEIDX|TITLEIDXASC]
            [,SORT[:ALL|EACH|UNIQUE|<n>]][,TAB_TCP[:<widths>]|TAB_GEN:<columns>]
            [,CLIENT|SERVER|BOTH|TUNNEL][,PKG:QEMU][,ALLVMS]
     ALLVMS: also the known VMs that do not run (inventory, else a scan), "shut off".
     <field>: the original's 22-field record, printed in its order (MACHINE: all, no
     header): PM (HOST) TYPE (ST STYPE) LABEL ID (P PNAME PATHNAME) UUID MAC TCP (IP DNS)
     DISPLAY CPORT SPORT PID UID (USER) GID (GROUP) CSTYPE (SITE) JOBID (JID) IFNAME (IF)
     RESERVED CONTEXTSTRG (CSTRG) EXECPATH (EXEPATH EXEP) HYPERRELRUN (HRELRUN HRELX HRX)
     ACCELERATOR (ACCEL) ARCH. TAB_GEN column: <field#|name>[_<title>[_<width>[_L|B]]].
     SPEC_GEN, REC_GEN, XML_GEN (SPEC, REC, XML), PROLOGUE, EPILOGUE: refused.
  -a ENUMERATE[=BASEPATH:/dir[%/dir2]][,ALL][,MATCHVSTAT:s[%s]][,<field>...]
            [,TERSE|MACHINE|JSON][,TITLE|TITLEIDX|TITLEIDXASC][,SORT[:..]][,TAB_GEN:..]
            (--inventory PATH: inventory file; -c OFF or -C off|rebuild|clear|list;
            what it skips is warned about on stderr, a missing BASEPATH is an error;
            MATCHVSTAT: the VMSTATEs shown, default ACTIVE%DISABLED%EMPTY; also
            PRESENT, ALL, CUSTOM%x; NAME.conf and 01.11 NAME.ctys confs; one line per
            address of #@#IP<n>)
     MACHINE: the original's 47-field record, one enum.fdb line per VM address, no
     header. <field>: the original's field names and aliases (HOST PM STYPE TYPE LABEL
     UUID MAC TCP PNAME ID VNCPORT CPORT DIST OS ACCEL ACCELERATOR EXEPATH ... see
     docs/inventory.md), printed in record order, HOST first. TITLE/TITLEIDX: the
     original's header line (with field numbers) in the terse formats.
  -a INFO[=REFRESH|LOAD|MACHINE] (LOAD: one line load1;ncpu;running_vms; MACHINE or -X:
            <user@host>;QEMU;<accel>;<version>;<magic>;<state>;<prerequisites>)
  -a INFO=<address>[,JSON][,LOG[:LINES]]  one VM: conf, disks (qemu-img), NICs, consoles,
     runtime, inventory rows, last log lines; LOG: only its console.log and qemu.log
     (the last run's once it stopped), last LINES (20) lines.
  -a SNAPSHOT=<address>[,CREATE:NAME|LIST|APPLY:NAME|DELETE:NAME][,FORCE][,TERSE|JSON]
     running VM: QMP (RAM and disks); stopped: qemu-img on each qcow2 disk (disks only);
     raw disks refused. DELETE:S4 of a suspended VM needs FORCE (drops its state).
  -a WATCH[=<address>|ALL][,JSON]  events of this host's VMs, one line each (time, host,
     label, event, runtime ID, details), until Ctrl-C: START, GONE, QEMU's own events from
     each VM's event-only monitor (STOP, RESUME, RESET, POWERDOWN, SHUTDOWN, GUEST_PANICKED,
     INTERNAL_ERROR, BLOCK_JOB_*...), FOREIGN_START/GONE (docs/watch.md).
  -a SHOW[=TERSE|MACHINE|JSON][,TITLE]  -a GETCLIENTPORT=<label>|<id>  -a ISACTIVE=<id>
Conf keys: #@#FIRMWARE = BIOS|UEFI|UEFI-SECURE (OVMF; the VM's variable store is
         <conf>_VARS.fd in its folder; INFO lists the firmware found), #@#DISKIF[<n>] =
         ide|virtio|scsi|sata|nvme (default IDE), #@#DISKCACHE[<n>], #@#DISKDISCARD[<n>],
         #@#SHARE<n> = HOSTDIR%TAG[%ro][%9p|%virtiofs] (a shared folder: one virtiofsd
         per share with the VM, else 9p; the guest mounts TAG; docs/shared-folders.md).
<address>: L:LABEL | U:UUID | M:MAC | T:IP (TCP:, IP:) | P:/path/vm.conf (PATHNAME:,
           PNAME:, and ID:/I:, the VM's ID = its conf path) | F:PATTERN (FNAME:,
           FILENAME:; part of the conf's full path, or an exact path) | DBRECORD:N
           (DBREC:, DR:; inventory record N, see ctys-vhost -o INDEX) | VMID:vmid (the
           runtime ID LIST shows, or a PID); every term must match (l:a,l:b matches
           nothing) and the conf found must agree with LABEL, UUID and path terms.
           Resolved from the inventory (filled by ENUMERATE) when it exists, and by
           scanning the VM folders when it does not or has no match (one stderr line
           says so); BASEPATH:/dir[%/dir2] (BASE:, B:) scans those folders (default
           folders: $CTYS_VMPATH or ~/qemu). CANCEL and CONNECT/REUSE look at the running
           VMs' runtime records first (a VM started from any conf, or relabelled since it
           started, is found).
CANCEL of a qemu you started by hand (l:NAME or VMID:PID): through its -qmp (or -monitor)
           unix socket, else only with FORCE (SIGTERM, SIGKILL after TIMEOUT). ALL stops
           the managed VMs in parallel and says how many other qemus it left alone. A
           paused or failed VM (paused, internal-error, guest-panicked, ...) is quit, no
           ACPI wait. Each VM's line names the step that ended it (ACPI, QEMU quit,
           SIGTERM, killed (SIGKILL)) and how long it took.
ACCELERATOR AUTO (default): KVM when usable, else TCG; a KVM guest that enters QEMU's
         internal-error state in its first seconds is restarted under TCG.
Logs of ended runs: ~/.local/state/ctys/logs/VMID/ (qemu.log, console.log; last 5 runs).
Targets: [user@]host['(' options ')'] ... run the action there over ssh (the remote runs
         ctys itself), concurrently; -l USER, -z pty (ssh -t; by default when stdin is a
         terminal and the action attaches a console), -b 1 background.
         LIST/ENUMERATE merge all hosts' rows (ENUMERATE fills the local inventory, one row
         per host that can run a VM); CREATE with no target picks among the hosts the
         inventory names (least loaded) and says which; a VM that runs on one of them
         already is refused there ("use CONNECT"), CONNECT/REUSE attach to it there.
Conf ARGS that make qemu run programs (script=, helper=, guestfwd=...-cmd:, -plugin,
         -incoming exec:, ...) or a QEMUBIN path are flagged by LIST/ENUMERATE; CREATE
         boots such a conf only for the conf file's owner (docs/conf-format.md).
VNC:     private by default: a UNIX socket in the VM's 0700 runtime folder (LIST shows
         unix:PATH), opened by TigerVNC's vncviewer or remote-viewer. A TCP port only with
         VNCBIND:ADDR or #@#VNCPORT, and then always with a password: VNCPASS:ENV%VAR or
         VNCPASS:FILE%PATH, else a random one kept 0600 in the runtime folder, shown to
         you by CREATE=<address>,CONSOLE:VNC,CONNECT.
"""


# The helper actions: their module under actions/ and its entry function.
_HELPERS = {
    "SHOW": ("show", "run_show"),
    "GETCLIENTPORT": ("getclientport", "run_getclientport"),
    "ISACTIVE": ("isactive", "run_isactive"),
}

# The actions that use the runtime dir: each sweeps the VDE switches no VM uses any more.
_USE_RUNTIME_DIR = frozenset({"CREATE", "CANCEL", "LIST"})


def sweep_vde_orphans() -> None:
    """Stop the VDE switches left by VMs that ended without CANCEL (killed, crashed)."""
    from ctys.plugins.qemu.net import vde_dir
    from ctys.rundir import runtime_root

    root = runtime_root()
    if not vde_dir(root).is_dir():
        return  # no VDE network was ever used here: LIST and CANCEL skip net.vde's imports
    from ctys.plugins.qemu.net.vde import sweep_orphan_switches

    sweep_orphan_switches(root)


class QemuPlugin(QemuConfs):
    """Session type QEMU (QEMU with KVM when usable, TCG otherwise). Its name and how the
    core finds its VMs (``magic_id``, ``describe``, ``confs_with_learned_ip``):
    ``confs.reader.QemuConfs``."""

    def actions(self) -> Mapping[str, str]:
        return _ACTIONS

    def help(self, action: str | None) -> str:
        if action and action in _ACTIONS:
            return f"QEMU {action}: {_ACTIONS[action]}\n\n{_HELP}"
        return _HELP

    def suboptions(self, action: str) -> Mapping[str, SuboptionSpec]:
        """The suboption keys of ``action`` (one table per action: ``suboptions``)."""
        from ctys.plugins.qemu.suboptions import BY_ACTION

        return BY_ACTION.get(action, {})

    def merged(self, action: str) -> MergedAction | None:
        """LIST and ENUMERATE rows of several targets are merged (``actions/remote_rows``)."""
        from ctys.plugins.qemu.actions.remote_rows import EnumerateMerge, ListMerge

        if action == "LIST":
            return ListMerge()
        if action == "ENUMERATE":
            return EnumerateMerge()
        return None

    def placement(self, action: str) -> Placement | None:
        """CREATE given no target picks the least loaded host (``actions/placing``)."""
        if action != "CREATE":
            return None
        from ctys.plugins.qemu.actions.placing import QemuPlacement

        return QemuPlacement()

    def attaches_terminal(self, call: ActionCall, *, background: bool) -> bool:
        """CREATE with a CLI/CLI0 console that attaches (``actions/attach``)."""
        from ctys.plugins.qemu.actions.attach import attaches_console

        return attaches_console(call, background=background)

    def forwarding(self, action: str) -> Forwarding | None:
        """-L CF: CREATE's VNC viewer or serial console here (``actions/forwarding``)."""
        if action != "CREATE":
            return None
        from ctys.plugins.qemu.actions.forwarding import QemuForwarding

        return QemuForwarding()

    def run(self, call: ActionCall, ctx: RunContext) -> int:
        if call.name in _USE_RUNTIME_DIR:
            sweep_vde_orphans()
        if call.name == "CREATE":
            from ctys.plugins.qemu.actions.create import run_create
            from ctys.plugins.qemu.requests import parse_create

            return run_create(parse_create(call), ctx)
        if call.name == "CANCEL":
            from ctys.plugins.qemu.actions.cancel import run_cancel
            from ctys.plugins.qemu.cancelreq import parse_cancel

            return run_cancel(parse_cancel(call), ctx)
        if call.name == "LIST":
            from ctys.plugins.qemu.actions.list import run_list_action

            return run_list_action(call, ctx)
        if call.name == "ENUMERATE":
            from ctys.plugins.qemu.actions.enumerate import run_enumerate

            return run_enumerate(call, ctx)
        if call.name == "INFO":
            from ctys.plugins.qemu.actions.info import run_info

            return run_info(call, ctx)
        if call.name == "SNAPSHOT":
            from ctys.plugins.qemu.actions.snapshot import run_snapshot
            from ctys.plugins.qemu.snapreq import parse_snapshot

            return run_snapshot(parse_snapshot(call, ctx.invocation.output_format), ctx)
        if call.name == "WATCH":
            from ctys.plugins.qemu.actions.watch import run_watch

            return run_watch(call, ctx)
        if call.name in _HELPERS:
            module, function = _HELPERS[call.name]
            run_helper: Callable[[ActionCall, RunContext], int] = getattr(
                importlib.import_module(f"ctys.plugins.qemu.actions.{module}"), function
            )
            return run_helper(call, ctx)
        from ctys.errors import UsageError

        raise UsageError(f"unknown action '{call.name}' for QEMU ({', '.join(_ACTIONS)})")


def make_plugin() -> QemuPlugin:
    """The plugin, as the registry builds a built-in plugin package's (``make_plugin``)."""
    return QemuPlugin()


if TYPE_CHECKING:
    # mypy checks here that QemuPlugin is a whole Plugin (the registry only casts).
    _IS_A_PLUGIN: type[Plugin] = QemuPlugin
