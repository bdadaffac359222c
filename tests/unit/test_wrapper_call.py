"""CREATE=…,WRAPPER: the suboption, the wrapper's argv in the original's interface, the
owner check, and the one-line note when a wrapper is not run."""

from __future__ import annotations

import io
import os
import shlex
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.consoles.kinds import ConsoleKind
from ctys.errors import UsageError, VmError
from ctys.invocation import ActionCall, Suboption
from ctys.plugins.qemu.actions.wrapperstart import (
    first_free_display,
    note_wrapper_not_run,
    wrapper_call,
)
from ctys.plugins.qemu.boot.bootspec import BootMode, BootSpec, KernelSpec
from ctys.plugins.qemu.boot.instmode import InstallSpec
from ctys.plugins.qemu.boot.wrapper import (
    CTYS_WRAPPER_MARK,
    WrapperCall,
    check_wrapper_owner,
    is_ctys_wrapper,
    wrapper_console,
)
from ctys.plugins.qemu.confs.mapping import load_vm_config
from ctys.plugins.qemu.requests import parse_create
from ctys.plugins.qemu.vm.runtime import VmRuntimeDir


def call(*subs: tuple[str, tuple[str, ...]]) -> ActionCall:
    return ActionCall("CREATE", tuple(Suboption(k, a, f"{k}:{'%'.join(a)}") for k, a in subs))


def test_wrapper_is_an_opt_in_flag() -> None:
    assert parse_create(call(("L", ("vm1",)))).wrapper is False
    assert parse_create(call(("L", ("vm1",)), ("WRAPPER", ()))).wrapper is True


@pytest.mark.parametrize(
    ("subs", "message"),
    [
        ((("WRAPPER", ("x",)),), "takes no value"),
        ((("WRAPPER", ()), ("CONSOLE", ("CLI0",))), "use CONSOLE:CLI, not CLI0"),
        ((("WRAPPER", ()), ("RESUME", ())), "RESUME continues a paused VM"),
    ],
)
def test_wrapper_misuse_is_one_usage_error(
    subs: tuple[tuple[str, tuple[str, ...]], ...], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        parse_create(call(("L", ("vm1",)), *subs))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (ConsoleKind.CLI, "CLI"),
        (ConsoleKind.VNC, "VNC"),
        (ConsoleKind.SDL, "SDL"),
        (ConsoleKind.XTERM, "CLI"),
        (ConsoleKind.GTERM, "CLI"),
        (ConsoleKind.EMACSAM, "CLI"),
    ],
)
def test_consoles_map_as_the_original_did(kind: ConsoleKind, expected: str) -> None:
    assert wrapper_console(kind) == expected


def test_argv_has_the_original_options_in_order_and_check_last() -> None:
    wc = WrapperCall(
        script=Path("/vms/a/a.sh"),
        console=ConsoleKind.VNC,
        vnc_display=3,
        boot=BootSpec(BootMode.CD, Path("/iso/x.iso")),
        kernel=KernelSpec(Path("/k"), Path("/i"), "console=ttyS0 quiet"),
        argsadd=("-snapshot",),
    )
    assert wc.argv(check=True) == [
        "/vms/a/a.sh",
        "--console=VNC",
        "--vncaccessdisplay=3",
        "--bootmode=CD%/iso/x.iso",
        "--kernelmode=/k%/i%console=ttyS0 quiet",
        "--argsadd=-snapshot",
        "--check",
    ]
    assert wc.argv()[-1] == "--argsadd=-snapshot"


def test_instmode_replaces_bootmode_with_empty_paths_for_the_confs() -> None:
    spec = InstallSpec(BootSpec(BootMode.CD, Path("/i.iso")), BootSpec(BootMode.HDD), "INIT")
    wc = WrapperCall(Path("/w.sh"), ConsoleKind.CLI, 0, boot=BootSpec(BootMode.HDD), install=spec)
    assert wc.argv() == ["/w.sh", "--console=CLI", "--vncaccessdisplay=0",
                         "--instmode=CD%/i.iso%HDD%%INIT"]  # fmt: skip


def test_a_kernel_alone_and_a_kernel_with_append_only() -> None:
    alone = WrapperCall(Path("/w"), ConsoleKind.CLI, 0, kernel=KernelSpec(Path("/k")))
    assert alone.argv()[-1] == "--kernelmode=/k"
    append = WrapperCall(Path("/w"), ConsoleKind.CLI, 0, kernel=KernelSpec(Path("/k"), None, "a b"))
    assert append.argv()[-1] == "--kernelmode=/k%%a b"


@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"))))
def test_argsadd_words_survive_the_wrappers_shell_split(words: list[str]) -> None:
    """The template does ``eval "... ${ARGSADD} ..."``: each word comes back whole."""
    argv = WrapperCall(Path("/w"), ConsoleKind.CLI, 0, argsadd=tuple(words)).argv()
    if not words:
        assert not any(a.startswith("--argsadd=") for a in argv)
        return
    assert shlex.split(argv[-1].removeprefix("--argsadd=")) == words


def test_wrapper_call_adds_ctys_monitor_and_serial_but_for_sdl(tmp_path: Path) -> None:
    conf = _conf(tmp_path)
    rundir = VmRuntimeDir(tmp_path / "run" / "vm")
    req = parse_create(call(("L", ("w1",)), ("WRAPPER", ()), ("ARGSADD", ("-snapshot",))))
    words = shlex.split(wrapper_call(load_vm_config(conf), req, rundir, 7).argv()[-1][10:])
    assert words[0] == "-snapshot"  # the user's words first
    assert words[1:7] == ["-qmp", f"unix:{rundir.qmp},server=on,wait=off",
                          "-qmp", f"unix:{rundir.events},server=on,wait=off",
                          "-pidfile", str(rundir.pidfile)]  # fmt: skip
    assert f"path={rundir.console}" in words[8]
    sdl = parse_create(call(("L", ("w1",)), ("WRAPPER", ()), ("CONSOLE", ("SDL",))))
    sdl_words = shlex.split(wrapper_call(load_vm_config(conf), sdl, rundir, 7).argv()[-1][10:])
    assert "-serial" not in sdl_words and "-qmp" in sdl_words


def _conf(folder: Path, *, wrapper: bool = True) -> Path:
    conf = folder / "w1.ctys"
    conf.write_text('#@#MAGICID-QEMU\n#@#LABEL = "w1"\nMEMSIZE=64\n')
    if wrapper:
        (folder / "w1.sh").write_text("#!/bin/sh\n")
    return conf


def test_owner_and_mode_are_checked(tmp_path: Path) -> None:
    script = tmp_path / "w.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    check_wrapper_owner(script)
    for mode in (0o775, 0o757):
        script.chmod(mode)
        with pytest.raises(VmError, match=f"writable by group or others \\(mode {mode:o}\\)"):
            check_wrapper_owner(script)
    script.chmod(0o700)
    with pytest.raises(VmError, match="is not owned by you"):
        check_wrapper_owner(script, uid=os.getuid() + 1)
    with pytest.raises(VmError, match="not a regular file"):
        check_wrapper_owner(tmp_path)
    with pytest.raises(VmError, match="No such file"):
        check_wrapper_owner(tmp_path / "gone.sh")
    script.chmod(0o755)
    folder = tmp_path / "shared"
    folder.mkdir()
    shared = folder / "w.sh"
    shared.write_text("#!/bin/sh\n")
    folder.chmod(0o777)
    with pytest.raises(VmError, match="its folder is writable by group or others"):
        check_wrapper_owner(shared)
    folder.chmod(0o1777)  # sticky: nobody else can replace our file
    check_wrapper_owner(shared)


def test_a_ctys_written_wrapper_is_recognised() -> None:
    assert is_ctys_wrapper(f"#!/bin/sh\n{CTYS_WRAPPER_MARK}\nexec ctys\n")
    assert not is_ctys_wrapper("#!/bin/bash\n. ./vm.ctys\n")


def test_the_not_run_note_only_for_a_folder_with_a_wrapper(tmp_path: Path) -> None:
    plain = parse_create(call(("L", ("w1",))))
    err = io.StringIO()
    note_wrapper_not_run(load_vm_config(_conf(tmp_path)), plain, err)
    assert err.getvalue() == (
        f"ctys: w1: wrapper {tmp_path / 'w1.sh'} not run; the qemu call is built from the conf"
        " (CREATE=…,WRAPPER runs it)\n"
    )
    err = io.StringIO()
    with_wrapper = parse_create(call(("L", ("w1",)), ("WRAPPER", ())))
    note_wrapper_not_run(load_vm_config(_conf(tmp_path)), with_wrapper, err)
    (tmp_path / "w1.sh").unlink()
    note_wrapper_not_run(load_vm_config(tmp_path / "w1.ctys"), plain, err)
    assert err.getvalue() == ""


def test_first_free_display_skips_taken_ports() -> None:
    taken = {5900, 5901}
    assert first_free_display(lambda port: port not in taken) == 2
    with pytest.raises(VmError, match="no free VNC display"):
        first_free_display(lambda port: False)
