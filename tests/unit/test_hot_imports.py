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


def test_list_with_no_vm_reads_no_conf_asks_no_monitor(tmp_path: Path) -> None:
    proc_root = _fake_proc(tmp_path / "proc", {})
    done = _run_probe(tmp_path, "-t", "QEMU", "-a", "LIST", proc_root=proc_root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == DEFAULT_HEADER  # the header alone: no VM
    mods = set(next(x for x in done.stderr.splitlines() if x.startswith("MODS ")).split()[1:])
    assert "ctys.plugins.qemu.vm.processes" in mods  # the probe really ran LIST
    assert not (_tops(mods) | mods) & (_NEVER | _LIST_IDLE_NEVER)


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
