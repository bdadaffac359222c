"""The hot commands import only what they use: pinned per command, so it cannot regrow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctys.plugins.qemu.actions.rowsentry import ROWS_MODULE, lean_args

_PROBE = (
    "import atexit, os, runpy, sys\n"
    "atexit.register(lambda: sys.stderr.write('MODS ' + ' '.join(sorted(sys.modules)) + '\\n'))\n"
    "if os.environ.get('PROBE_PROC'):\n"  # a process table of our making (see _fake_proc)
    "    import ctys.plugins.qemu.vm.processes as p; p._PROC = os.environ['PROBE_PROC']\n"
    "sys.argv = ['ctys', *sys.argv[1:]]\n"
    "runpy.run_module(os.environ.get('PROBE_MODULE') or 'ctys', run_name='__main__')\n"
)


def _run_probe(
    tmp_path: Path, *args: str, proc_root: Path | None = None, module: str = ""
) -> subprocess.CompletedProcess[str]:
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = dict(
        os.environ,
        CTYS_RUNTIME_DIR=str(runtime),
        CTYS_VMPATH=str(tmp_path / "vms"),
        CTYS_INVENTORY=str(tmp_path / "inv.sqlite"),
        PROBE_PROC=str(proc_root or ""),
        PROBE_MODULE=module,
    )
    return subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        env=env,
        capture_output=True,  # stdout is a pipe, never a terminal
        text=True,
        check=False,
    )


def _modules(tmp_path: Path, *args: str, proc_root: Path | None = None) -> set[str]:
    proc = _run_probe(tmp_path, *args, proc_root=proc_root)
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODS "))
    return set(line.split()[1:])


DEFAULT_HEADER = ["LABEL", "STATE", "PID", "USER", "MANAGED", "ACCEL", "VNC", "IP", "MAC"]
DEFAULT_HEADER += ["VMID", "CONF"]


def _tops(mods: set[str]) -> set[str]:
    return {m.split(".")[0] for m in mods}


@pytest.mark.parametrize(
    "args",
    [
        ("-t", "QEMU", "-a", "LIST"),
        ("-t", "QEMU", "-a", "LIST=TERSE"),
        ("-t", "QEMU", "-a", "LIST=JSON"),
        ("-h",),
    ],
)
def test_list_and_help_off_a_terminal_do_not_import_rich(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    mods = _modules(tmp_path, *args)
    assert "ctys" in mods  # the probe really ran ctys
    assert "rich" not in _tops(mods)


def test_help_imports_no_plugin(tmp_path: Path) -> None:
    mods = _modules(tmp_path, "-h")
    assert not {m for m in mods if m.startswith("ctys.plugins.q")}  # the registry only
    assert not _tops(mods) & {"rich", "psutil", "sqlite3", "subprocess", "json"}
    # The CLI core's own start-up: no macro file machinery without a macro word, no remote
    # options or ssh without a target, the scanner's helpers (shlex, string) only when used.
    assert not mods & {"ctys.macros", "ctys.cli.dispatch", "ctys.remote", "shlex", "string"}
    assert "threading" not in mods  # the stop-signal guard needs no thread check of its own


# --- LIST, CANCEL and CREATE -n on a host whose process table we make ---------------------
#
# The host's real process table holds other qemus (other users' VMs, other tests): these
# tests read a /proc of their own instead, so the import set does not depend on them.

# Loaded by none of the commands below: the QMP client (asyncio, qemu.qmp), psutil (the
# process table is read from /proc), rich (output off a terminal), the thread pool.
_NEVER = {"rich", "psutil", "asyncio", "qemu", "concurrent"}
# And on top, what LIST with no VM does not need: no conf is read, no monitor asked, no
# address resolved, no program run, no network touched.
_LIST_IDLE_NEVER = {
    "subprocess",
    "socket",
    "sqlite3",
    "ctys.address.resolve",
    "ctys.address.scan",
    "ctys.plugins.qemu.confs.mapping",
    "ctys.plugins.qemu.net.guestip",
    "ctys.plugins.qemu.net.network",
    "ctys.plugins.qemu.vmconfig",
    "ctys.conf.parser",
    "ctys.plugins.qemu.net.vde",
    "ctys.plugins.qemu.vm.handle",
    "ctys.plugins.qemu.vm.qmp",
    "ctys.plugins.qemu.vm.qmpprobe",
    "ctys.plugins.qemu.host.detect",
    # Loaded only when a qemu runs, a macro word or a target with options is given, or the
    # output asks for them (issue 15 point 2: each cost LIST's start-up 0.5-7 ms):
    "ctys.macros",  # no word holds a macro
    "ctys.address.model",  # only once an action failed (an ambiguous address)
    "ctys.plugins.qemu.vm.cmdline",  # the qemu command-line parser: no qemu found
    "ctys.plugins.qemu.actions.listrecord",  # the original's record fields: no row
    "ctys.formats.sorting",  # SORT
    "ctys.formats.tabgen",  # TAB_GEN
    "ctys.formats.tabtcp",  # TAB_TCP
    "ctys.plugins.answers",  # merged, placed or forwarded actions' answers
    "ctys.plugins.subopts",  # the suboption tables: the shell's completion asks them
    "ctys.remote.options",  # a target's own options
    "ctys.remote.ssh",  # a remote target
    "shlex",
    "string",
    "threading",  # the stop-signal guard: Python itself refuses handlers off the main thread
}


def _fake_proc(root: Path, processes: dict[int, list[str]]) -> Path:
    """A /proc holding ``processes`` (pid: argv), owned by us, started at boot + 1 s."""
    root.mkdir()
    (root / "stat").write_text("cpu 1 2 3\nbtime 1700000000\n")
    for pid, argv in processes.items():
        folder = root / str(pid)
        folder.mkdir()
        (folder / "cmdline").write_bytes(b"\0".join(os.fsencode(a) for a in argv) + b"\0")
        (folder / "comm").write_text("qemu-system-x86\n")
        rest = " ".join(["0"] * 18 + ["100"] + ["0"] * 10)  # field 22: 100 ticks
        (folder / "stat").write_text(f"{pid} (qemu-system-x86) S {rest}\n")
        ids = f"{os.getuid()}\t{os.getuid()}\t{os.getuid()}\t{os.getuid()}"
        (folder / "status").write_text(f"Name:\tqemu\nUid:\t{ids}\nGid:\t0\t0\t0\t0\n")
    return root


def _managed_vm(tmp_path: Path, pid: int) -> list[str]:
    """A runtime folder and conf as CREATE leaves them, for a qemu ``pid``; its argv. Its
    QMP socket does not exist (the fake qemu has no monitor): LIST shows it "unknown"."""
    conf = tmp_path / "vms" / "fake" / "fake.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("#@#MAGICID-QEMU\n#@#LABEL = fake\nKERNEL=vmlinuz\n")
    vmdir = tmp_path / "rt" / "vms" / "fake-0001"
    vmdir.mkdir(parents=True)
    (tmp_path / "rt").chmod(0o700)
    argv = [
        "qemu-system-x86_64", "-name", "fake", "-pidfile", str(vmdir / "qemu.pid"),
        "-qmp", f"unix:{vmdir / 'qmp.sock'},server=on,wait=off",
    ]  # fmt: skip
    record = {"vmid": "fake-0001", "label": "fake", "conf": str(conf), "pid": pid}
    (vmdir / "state.json").write_text(json.dumps(record))
    return argv


@pytest.mark.parametrize(
    ("action", "header"),
    [
        ("LIST", DEFAULT_HEADER),  # the header alone: no VM
        ("LIST=TERSE", []),  # no title line in the terse form: nothing
        ("LIST=JSON", ["[]"]),
    ],
)
def test_list_with_no_vm_reads_no_conf_asks_no_monitor(
    tmp_path: Path, action: str, header: list[str]
) -> None:
    proc_root = _fake_proc(tmp_path / "proc", {})
    done = _run_probe(tmp_path, "-t", "QEMU", "-a", action, proc_root=proc_root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == header
    mods = set(next(x for x in done.stderr.splitlines() if x.startswith("MODS ")).split()[1:])
    assert "ctys.plugins.qemu.vm.processes" in mods  # the probe really ran LIST
    assert not (_tops(mods) | mods) & (_NEVER | _LIST_IDLE_NEVER)
    assert ("json" in mods) is (action == "LIST=JSON")  # JSON's encoder only for JSON


def test_list_of_a_running_vm_asks_its_monitor_without_psutil_or_rich(tmp_path: Path) -> None:
    argv = _managed_vm(tmp_path, 4242)
    proc_root = _fake_proc(tmp_path / "proc", {4242: argv})
    done = _run_probe(tmp_path, "-t", "QEMU", "-a", "LIST", proc_root=proc_root)
    assert done.returncode == 0, done.stderr
    [row] = [line.split() for line in done.stdout.splitlines() if line.startswith("fake ")]
    assert row[:3] == ["fake", "unknown", "4242"]  # listed, its (absent) monitor asked
    mods = set(next(x for x in done.stderr.splitlines() if x.startswith("MODS ")).split()[1:])
    assert "ctys.plugins.qemu.vm.qmpprobe" in mods
    # QMP goes through qemu.qmp, on asyncio (which loads concurrent.futures): once a VM runs.
    assert {"asyncio", "qemu"} <= _tops(mods)
    assert not _tops(mods) & {"rich", "psutil"}


def test_cancel_of_an_unknown_label_loads_no_qmp_client_nor_psutil(tmp_path: Path) -> None:
    proc_root = _fake_proc(tmp_path / "proc", {})
    done = _run_probe(tmp_path, "-t", "QEMU", "-a", "CANCEL=l:nosuchvm", proc_root=proc_root)
    assert done.returncode != 0
    assert "nosuchvm" in done.stderr
    mods = set(next(x for x in done.stderr.splitlines() if x.startswith("MODS ")).split()[1:])
    assert "ctys.plugins.qemu.actions.cancel" in mods
    assert not _tops(mods) & _NEVER, sorted(_tops(mods) & _NEVER)


def test_create_n_of_a_tiny_conf_loads_no_qmp_client_nor_psutil(tmp_path: Path) -> None:
    folder = tmp_path / "vms" / "tiny"
    folder.mkdir(parents=True)
    (folder / "tiny.conf").write_text("#@#MAGICID-QEMU\n#@#LABEL = tiny\nKERNEL=vmlinuz\n")
    (folder / "vmlinuz").write_bytes(b"")
    proc_root = _fake_proc(tmp_path / "proc", {})
    done = _run_probe(
        tmp_path, "-t", "QEMU", "-a", f"CREATE=p:{folder / 'tiny.conf'}", "-n", proc_root=proc_root
    )
    assert done.returncode == 0, done.stderr
    assert "-kernel" in done.stdout  # the argv was printed, nothing started
    mods = set(next(x for x in done.stderr.splitlines() if x.startswith("MODS ")).split()[1:])
    assert not _tops(mods) & _NEVER, sorted(_tops(mods) & _NEVER)


# --- ctys-vhost: a query of exact field terms ------------------------------------------
#
# What the console script runs (pip's script also imports re, for its argv[0]), reporting
# every module loaded once it is done.
_VHOST_PROBE = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('MODS ' + ' '.join(sorted(sys.modules)) + '\\n'))\n"
    "from ctys.cli.vhost import main\n"
    "sys.exit(main())\n"
)
# Every ctys module the fast path (ctys.cli.vhostlean) loads: the field names, the
# store's read-only way in, the plain-table cells. Not the store, record, query language,
# output spec, stream guard or error modules.
_VHOST_LEAN = {
    "ctys", "ctys.cli", "ctys.cli.vhost", "ctys.cli.vhostlean", "ctys.inventory",
    "ctys.inventory.fieldnames", "ctys.inventory.location", "ctys.inventory.quickread",
    "ctys.plaintable", "ctys.textescape",
}  # fmt: skip
# Nor the heavy standard modules (argparse, the dataclass machinery and inspect, typing,
# pathlib, enum and re) nor anything outside the standard library.
_VHOST_NEVER = {
    "argparse", "dataclasses", "inspect", "ast", "typing", "pathlib", "enum", "re", "json",
    "urllib", "signal", "threading", "subprocess", "rich", "psutil", "qemu", "asyncio",
}  # fmt: skip


@pytest.mark.parametrize(
    "words",
    [
        ("L:vm1",),
        ("-t", "U:U-1"),
        ("-o", "label,uuid", "--title", "-t", "LABEL=vm1", "AND", "H:h1"),
        ("--host", "h1", "-o", "MAXKEY", "L:vm1"),
        ("-j", "L:vm1"),
    ],
)
def test_vhost_exact_query_imports_only_the_fast_path(
    tmp_path: Path, words: tuple[str, ...]
) -> None:
    from ctys.inventory.record import InventoryRecord
    from ctys.inventory.store import Inventory

    db = tmp_path / "inv.sqlite"
    with Inventory.open(db) as inv:
        inv.add([InventoryRecord(host="h1", label="vm1", pname="/v/vm1.conf", uuid="u-1")])
    done = subprocess.run(
        [sys.executable, "-c", _VHOST_PROBE, "--inventory", str(db), *words],
        capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "vm1" in done.stdout
    mods = set(next(x for x in done.stderr.splitlines() if x.startswith("MODS ")).split()[1:])
    assert {m for m in mods if m.startswith("ctys")} == _VHOST_LEAN
    never = _VHOST_NEVER - ({"json", "re", "enum"} if "-j" in words else set())
    assert not (_tops(mods) | mods) & never, sorted((_tops(mods) | mods) & never)


def test_base_serves_the_types_it_no_longer_builds() -> None:
    """The plugin interface still names the answers and the suboption specs (plugins import
    them from base), though their classes live in ``ctys.plugins.answers`` and
    ``ctys.plugins.subopts``, built at the first use."""
    from ctys.plugins import answers, base, subopts

    assert base.HostLoad is answers.HostLoad
    assert base.TargetRows is answers.TargetRows
    assert base.ClientEndpoint is answers.ClientEndpoint
    assert base.SuboptionSpec is subopts.SuboptionSpec
    assert base.ValueKind is subopts.ValueKind
    with pytest.raises(AttributeError, match="no attribute 'NoSuchAnswer'"):
        _ = base.NoSuchAnswer


# --- CREATE up to qemu's launch -------------------------------------------------------------
#
# The probe runs a real CREATE and stops it where qemu would be started (the one Popen of
# ``vm.lifecycle``): what is loaded then is what every start pays for before qemu runs.
# Everything after the launch (QMP, the VNC password, PING/SSHPING, WAIT:, the console)
# and everything a plain conf does not ask for (VDE, shares, KVM, an inventory) loads later.

_LAUNCH_PROBE = (
    "import os, sys, runpy\n"
    "import ctys.plugins.qemu.vm.lifecycle as lifecycle\n"
    "import ctys.plugins.qemu.vm.processes as p; p._PROC = os.environ['PROBE_PROC']\n"
    "def launch(argv, log):\n"
    "    sys.stderr.write('MODS ' + ' '.join(sorted(sys.modules)) + '\\n')\n"
    "    sys.stderr.write('ARGV ' + ' '.join(argv) + '\\n')\n"
    "    raise OSError(2, 'not started by the probe')\n"
    "lifecycle._popen = launch\n"
    "sys.argv = ['ctys', *sys.argv[1:]]\n"
    "runpy.run_module('ctys', run_name='__main__')\n"
)

# Loaded by no plain start before qemu runs (each is measured in docs/performance.md).
_LAUNCH_NEVER = {
    "sqlite3",  # no inventory file: the label is resolved by scanning
    "ctys.inventory.store",
    "socket",  # the QMP client, the guest agent, a fixed VNC port's check: after the launch
    "tempfile",  # the runtime record is written without it (and without fsync)
    "secrets",  # a generated VNC password / INSTMODE INIT only
    "ctys.plugins.qemu.actions.guestprobe",
    "ctys.plugins.qemu.actions.waitready",
    "ctys.plugins.qemu.actions.kvmwatch",
    "ctys.plugins.qemu.actions.wrapperstart",
    "ctys.plugins.qemu.host.detect",  # TCG: one PATH lookup, no scan of the host's qemus
    "ctys.plugins.qemu.host.kvmprobe",
    "ctys.plugins.qemu.net.vde",  # a user-mode NIC needs no switch
    "ctys.plugins.qemu.net.vdelink",
    "ctys.plugins.qemu.shares.fsdaemon",
    "ctys.plugins.qemu.vm.imagelock",
    "ctys.plugins.qemu.vm.qga",
}


def test_create_loads_only_the_start_path_before_qemu_runs(tmp_path: Path) -> None:
    folder = tmp_path / "vms" / "tiny"
    folder.mkdir(parents=True)
    (folder / "tiny.conf").write_text(
        "#@#MAGICID-QEMU\n#@#LABEL = tiny\n#@#ACCELERATOR = TCG\nKERNEL=vmlinuz\n"
    )
    (folder / "vmlinuz").write_bytes(b"")
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700)
    env = dict(
        os.environ,
        CTYS_RUNTIME_DIR=str(runtime),
        CTYS_VMPATH=str(tmp_path / "vms"),
        CTYS_INVENTORY=str(tmp_path / "inv.sqlite"),
        CTYS_ACCEL="tcg",
        PROBE_PROC=str(_fake_proc(tmp_path / "proc", {})),
    )
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCH_PROBE, "-t", "QEMU", "-a", "CREATE=l:tiny,CONSOLE:CLI"],
        env=env, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    lines = done.stderr.splitlines()
    argv = next(x for x in lines if x.startswith("ARGV ")).split()[1:]
    assert "-kernel" in argv and "tiny" in " ".join(argv)  # the real start got to qemu
    assert done.returncode != 0 and "not started by the probe" in done.stderr
    mods = set(next(x for x in lines if x.startswith("MODS ")).split()[1:])
    assert "ctys.plugins.qemu.actions.startseq" in mods
    assert not (_tops(mods) | mods) & (_NEVER | _LAUNCH_NEVER), sorted(
        (_tops(mods) | mods) & (_NEVER | _LAUNCH_NEVER)
    )
    assert not list(runtime.glob("vms/*")), "the failed start left its runtime folder"


# --- the lean rows a merged LIST's target answers (ctys-rows) -----------------------------

ROWS_ARGS = ("-t", "QEMU", "-a", "LIST=JSON", "-o", "ALL")
# What the rows entry leaves out: ctys's command line (argument scanner, Invocation,
# macros, dispatcher, registry), the output formats, the fan-out.
_ROWS_NEVER = {
    "argparse",
    "ctys.argscan",
    "ctys.cli",
    "ctys.invocation",
    "ctys.macros",
    "ctys.plugins.base",
    "ctys.plugins.registry",
    "ctys.formats",
    "ctys.tables",
    "ctys.remote",
    "ctys.plugins.qemu.actions.listout",
}


def _mods_of(done: subprocess.CompletedProcess[str]) -> set[str]:
    return set(next(x for x in done.stderr.splitlines() if x.startswith("MODS ")).split()[1:])


def _packages(mods: set[str]) -> set[str]:
    """Every module and each package above it (``a.b.c``: ``a``, ``a.b``, ``a.b.c``)."""
    return {".".join(m.split(".")[:i]) for m in mods for i in range(1, m.count(".") + 2)}


def test_rows_entry_with_no_vm_loads_no_command_line(tmp_path: Path) -> None:
    proc_root = _fake_proc(tmp_path / "proc", {})
    done = _run_probe(tmp_path, *ROWS_ARGS, proc_root=proc_root, module=ROWS_MODULE)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    mods = _mods_of(done)
    assert "ctys.plugins.qemu.vm.processes" in mods  # the probe really listed
    loaded = _packages(mods)
    assert not loaded & (_NEVER | _LIST_IDLE_NEVER | _ROWS_NEVER), sorted(
        loaded & (_NEVER | _LIST_IDLE_NEVER | _ROWS_NEVER)
    )


def test_rows_entry_prints_what_ctys_prints_for_a_running_vm(tmp_path: Path) -> None:
    argv = _managed_vm(tmp_path, 4242)
    proc_root = _fake_proc(tmp_path / "proc", {4242: argv, 4343: ["qemu-system-x86_64"]})
    lean = _run_probe(tmp_path, *ROWS_ARGS, proc_root=proc_root, module=ROWS_MODULE)
    full = _run_probe(tmp_path, *ROWS_ARGS, proc_root=proc_root)
    assert lean.returncode == full.returncode == 0, lean.stderr + full.stderr
    rows = json.loads(lean.stdout)
    assert [(r["LABEL"], r["PID"], r["MANAGED"]) for r in rows] == [
        ("", 4343, False),
        ("fake", 4242, True),
    ]
    assert lean.stdout == full.stdout  # the same text, byte for byte
    strip = [line for line in lean.stderr.splitlines() if not line.startswith("MODS ")]
    assert strip == [line for line in full.stderr.splitlines() if not line.startswith("MODS ")]
    # (Reading the VM's conf loads the argument grammar for its suboption values.)
    never = _ROWS_NEVER - {"ctys.argscan", "ctys.invocation"}
    assert not _packages(_mods_of(lean)) & never, sorted(_packages(_mods_of(lean)) & never)


def test_rows_entry_hands_other_words_to_ctys(tmp_path: Path) -> None:
    # A newer caller's words the entry does not know: the full ctys answers them (-o terse
    # is never sent by a caller; here it shows who answered).
    proc_root = _fake_proc(tmp_path / "proc", {})
    script = Path(sys.executable).parent / "ctys-rows"
    done = subprocess.run(
        [str(script), "-t", "QEMU", "-a", "LIST=TITLE", "-o", "terse"],
        env=dict(os.environ, CTYS_RUNTIME_DIR=str(tmp_path), PROBE_PROC=str(proc_root)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("LABEL;STATE;PID")


@pytest.mark.parametrize(
    ("args", "lean"),
    [
        (["-t", "QEMU", "-a", "LIST=JSON", "-o", "ALL"], True),
        (["-a", "LIST=JSON", "-o", "ALL"], True),
        (["-t", "qemu", "-a", "LIST=JSON,SERVER", "-o", "ALL"], True),
        (["-a", "LIST=JSON,both,SERVER", "-o", "ALL"], True),
        (["-a", "LIST=JSON,ALLVMS", "-o", "ALL"], False),
        (["-a", "LIST=JSON,PKG:QEMU", "-o", "ALL"], False),
        (["-a", "LIST=JSON,CLIENT", "-o", "ALL"], False),
        (["-a", "LIST=JSON", "-o", "ALL", "-d", "1"], False),
        (["-a", "LIST=JSON", "-C", "off", "-o", "ALL"], False),
        (["-a", "LIST", "-o", "ALL"], False),
        (["-a", "LIST=TERSE", "-o", "ALL"], False),
        (["-a", "LIST=JSON", "-o", "json"], False),
        (["-a", "ENUMERATE=JSON", "-o", "ALL"], False),
        (["-t", "FAKE", "-a", "LIST=JSON", "-o", "ALL"], False),
        (["-t"], False),
        ([], False),
    ],
)
def test_rows_entry_answers_only_the_words_of_a_merged_list(args: list[str], lean: bool) -> None:
    assert lean_args(args) is lean
