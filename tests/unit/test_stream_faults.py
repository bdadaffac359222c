"""Every command of every entry point, with its output or error stream broken: stdout to
/dev/full, stdout closed, stdout a pipe nobody reads, stderr closed, stderr to /dev/full
(issue 9, point 15). Whatever breaks, the command ends with no traceback (not even the
"Exception ignored" one Python prints while flushing at exit), at most one line on stderr,
and a non-zero status when the broken stream had something to carry.

The oracle is the same command run with healthy streams first: what it wrote to stdout
(stderr) must fail when stdout (stderr) is broken; a command that wrote nothing there
keeps its status. Real processes (the installed console scripts), no qemu is booted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
# Python exits 120 when flushing stdout/stderr at shutdown fails.
EXIT_FLUSH_FAILED = 120

# Installed into the children through PYTHONPATH: any uncaught exception and anything
# Python reports as "Exception ignored" (e.g. at the final flush) lands in a file, so a
# traceback is seen even when the child's stderr is closed or full.
SITECUSTOMIZE = """\
import os, sys, traceback
_path = os.environ.get("CTYS_TEST_TRACEBACKS")
if _path:
    def _record(text):
        with open(_path, "a") as fh:
            fh.write(text)
    def _excepthook(kind, value, tb):
        _record("".join(traceback.format_exception(kind, value, tb)))
    def _unraisablehook(info):
        _record("unraisable: " + "".join(
            traceback.format_exception(info.exc_type, info.exc_value, info.exc_traceback)))
    sys.excepthook = _excepthook
    sys.unraisablehook = _unraisablehook
"""

CONF = "#@#MAGICID-QEMU\n#@#LABEL = {label}\n#@#ACCELERATOR = TCG\nKERNEL=vmlinuz\n"


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str
    tracebacks: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    """A private environment with two VMs and a filled inventory."""
    root = Path(tmp_path_factory.mktemp("streams"))
    vms = root / "vms"
    for label in ("one", "two"):
        (vms / label).mkdir(parents=True)
        (vms / label / f"{label}.conf").write_text(CONF.format(label=label))
    hook = root / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    runtime = Path("/tmp") / f"ctsf{os.getpid()}"
    env = {
        **os.environ,
        "CTYS_RUNTIME_DIR": str(runtime),
        "CTYS_VMPATH": str(vms),
        "CTYS_ACCEL": "tcg",
        "CTYS_INVENTORY": str(root / "inventory.sqlite"),
        "XDG_CACHE_HOME": str(root / "cache"),
        "PYTHONPATH": str(hook),
    }
    env.pop("DISPLAY", None)
    env.pop("PYTHONUNBUFFERED", None)  # buffered, as for users: failures come at the flush
    filled = subprocess.run(
        [BIN / "ctys", "-t", "QEMU", "-a", "ENUMERATE"], env=env, capture_output=True, check=False
    )
    assert filled.returncode == 0, filled.stderr
    try:
        yield env, root
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def commands() -> list[list[str]]:
    """Every action's help, the read actions in each output format, ctys-vhost queries,
    ctys-createConfVM ({dir} is a fresh base folder per run)."""
    from ctys.plugins.registry import load_plugin

    ctys = [["ctys", "-h"], ["ctys", "-H"], ["ctys", "-V"], ["ctys", "-t", "QEMU", "-h"]]
    ctys += [["ctys", "-t", "QEMU", "-a", action, "-h"] for action in load_plugin("QEMU").actions()]
    for action in ("LIST", "INFO", "ENUMERATE"):
        for fmt in ((), ("-o", "json"), ("-o", "terse")):
            # Terse LIST with a title: it prints something even when no qemu runs on this
            # shared host, and other users' VMs coming and going cannot change that.
            word = "LIST=TITLE" if action == "LIST" and "terse" in fmt else action
            ctys.append(["ctys", "-t", "QEMU", "-a", word, *fmt])
    ctys.append(["ctys", "-t", "QEMU", "-a", "ENUMERATE", "-C", "list"])
    ctys.append(["ctys", "-t", "QEMU", "-a", "NOSUCH"])  # an error: writes stderr only
    vhost = [
        ["ctys-vhost", "-h"],
        ["ctys-vhost", "one"],
        ["ctys-vhost", "-j"],
        ["ctys-vhost", "-t", "LABEL=two"],
        ["ctys-vhost", "-C", "LIST"],
        ["ctys-vhost", "--export", "-"],
        ["ctys-vhost", "nosuchvm"],
        ["ctys-vhost", "--bogus"],
    ]
    create = [
        ["ctys-createConfVM", "-h"],
        ["ctys-createConfVM", "--label", "new", "--dir", "{dir}", "--disk-size", "0"],
        ["ctys-createConfVM", "--label", "new", "--dir", "{dir}", "--disk-size", "0", "--json"],
        ["ctys-createConfVM", "--label", "a b"],
    ]
    return ctys + vhost + create


# How each broken stream is set up: a shell redirection on the exec'd command.
FAULTS = {
    "stdout-full": ">/dev/full",
    "stdout-closed": ">&-",
    "stdout-closed-pipe": "",  # a pipe whose reader is gone (set up in run())
    "stderr-closed": "2>&-",
    "stderr-full": "2>/dev/full",
}


def run(argv: list[str], env: dict[str, str], root: Path, fault: str | None) -> Outcome:
    base = Path(os.path.realpath(root)) / "new" / f"{fault or 'healthy'}-{os.urandom(4).hex()}"
    words = [str(BIN / argv[0])] + [w.replace("{dir}", str(base)) for w in argv[1:]]
    traces = base.with_suffix(".tracebacks")
    base.parent.mkdir(exist_ok=True)
    child_env = {**env, "CTYS_TEST_TRACEBACKS": str(traces)}
    redirect = FAULTS[fault] if fault else ""
    script = f'exec "$@" {redirect}'
    stdout: int = subprocess.PIPE
    reader = writer = -1
    if fault == "stdout-closed-pipe":
        reader, writer = os.pipe()
        os.close(reader)
        stdout = writer
    try:
        done = subprocess.run(
            ["sh", "-c", script, "sh", *words],
            env=child_env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        if writer >= 0:
            os.close(writer)
    found = traces.read_text() if traces.exists() else ""
    return Outcome(done.returncode, done.stdout or "", done.stderr or "", found)


def check(argv: list[str], env: dict[str, str], root: Path) -> list[str]:
    """Problems of one command under every fault (empty: all fine)."""
    healthy = run(argv, env, root, None)
    problems: list[str] = []
    if healthy.tracebacks or "Traceback" in healthy.err:
        problems.append(f"{argv}: traceback with healthy streams: {healthy.tracebacks}")
    for fault in FAULTS:
        got = run(argv, env, root, fault)
        where = f"{argv} with {fault}"
        if got.tracebacks or "Traceback" in got.err + got.out:
            problems.append(f"{where}: traceback:\n{got.tracebacks or got.err}")
        if got.code == EXIT_FLUSH_FAILED:
            problems.append(f"{where}: exit 120 (the final flush failed)")
        if len(got.err.splitlines()) > 1:
            problems.append(f"{where}: more than one line on stderr: {got.err!r}")
        broken_had_work = bool(healthy.out if fault.startswith("stdout") else healthy.err)
        if broken_had_work and got.code == 0:
            problems.append(f"{where}: exit 0 though its output was lost")
        if not broken_had_work and got.code != healthy.code:
            problems.append(f"{where}: exit {got.code}, healthy {healthy.code}")
        if fault.startswith("stderr") and bool(got.out) != bool(healthy.out):
            problems.append(f"{where}: stdout {got.out!r}, healthy {healthy.out!r}")
        if fault.startswith("stdout") and got.err and "ctys" not in got.err.split(":")[0]:
            problems.append(f"{where}: stderr is not one ctys line: {got.err!r}")
    return problems


# 37 commands, each run healthy and under 5 faults: 16 s on an idle machine, past pytest's
# default 120 s at a load of 10-15 (VMs booting under TCG beside it).
@pytest.mark.timeout(600)
def test_every_command_survives_every_broken_stream(
    world: tuple[dict[str, str], Path],
) -> None:
    env, root = world
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda argv: check(argv, env, root), commands()))
    problems = [line for lines in results for line in lines]
    assert not problems, "\n".join(problems)


def test_the_fault_check_catches_a_command_that_loses_its_output(
    world: tuple[dict[str, str], Path],
) -> None:
    """The check itself can fail: a program that swallows write errors and exits 0, and
    one that leaves its failure to Python's flush at exit, are both caught."""
    env, root = world
    swallow = root / "swallow.py"
    swallow.write_text(
        "import os, sys\ntry:\n print('x')\n sys.stdout.flush()\nexcept OSError:\n pass\n"
        "os._exit(0)\n"
    )
    problems = "\n".join(check(["python3", str(swallow)], env, root))
    assert "with stdout-full: exit 0 though its output was lost" in problems
    assert "with stdout-closed-pipe: exit 0 though its output was lost" in problems
    careless = root / "careless.py"
    careless.write_text("print('x')\n")
    problems = "\n".join(check(["python3", str(careless)], env, root))
    assert "with stdout-full: exit 120" in problems
