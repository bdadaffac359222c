"""The original's CREATE suboptions (COMPAT §6): their syntax, the conf's defaults, the
argv they make, and the pure parts of PING/SSHPING, STACKCHECK, RECONNECT and ``-n``."""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.address.model import AddressKind
from ctys.argscan import parse_action, scan_argv
from ctys.consoles.kinds import ConsoleKind, parse_console_port
from ctys.consoles.launchers import console_argv
from ctys.consoles.serial import claim_console
from ctys.errors import UsageError, VmError
from ctys.invocation import Suboption
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.clients import client_markers, console_holder, is_client
from ctys.plugins.qemu.actions.create import run_create
from ctys.plugins.qemu.actions.createdefaults import with_conf_defaults
from ctys.plugins.qemu.actions.guestprobe import (
    SshTarget,
    check_probe_targets,
    poll,
    ssh_target,
    sshping_argv,
)
from ctys.plugins.qemu.actions.stackcheck import check_stack, requirement_words
from ctys.plugins.qemu.boot.argv import LaunchSpec, build_argv
from ctys.plugins.qemu.boot.bootspec import BootMode, BootSpec
from ctys.plugins.qemu.boot.preflight import check_media
from ctys.plugins.qemu.confs.mapping import load_vm_config
from ctys.plugins.qemu.createopts import ProbeSpec, StackCheck, parse_probe
from ctys.plugins.qemu.net.netconf import network_config
from ctys.plugins.qemu.requests import CreateRequest, parse_create
from ctys.plugins.qemu.vm.runtime import RuntimeDir, RuntimeRecord, VmRuntimeDir
from ctys.plugins.qemu.vmconfig import Accelerator, VmConfig
from ctys.plugins.qemu.vmfacts import VmFacts


def create(text: str) -> CreateRequest:
    return parse_create(parse_action(f"CREATE={text}"))


def refused(text: str) -> str:
    with pytest.raises(UsageError) as info:
        create(text)
    assert info.value.exit_code == 2
    return str(info.value)


def vm(**kw: object) -> VmConfig:
    base: dict[str, object] = {"conf_path": Path("/vms/vm1/vm1.conf"), "label": "vm1"}
    base.update(kw)
    return VmConfig(**base)  # type: ignore[arg-type]


# --- syntax ----------------------------------------------------------------------------


def test_defaults_are_the_originals() -> None:
    req = create("l:x")
    assert req.console is ConsoleKind.VNC and not req.console_given
    assert req.boot is None  # VHDD: the conf's DEFAULTBOOTMODE, else qemu's disk first
    assert not (req.ping.enabled or req.sshping.enabled)
    assert (req.ping.count, req.ping.interval) == (20, 2.0)
    assert (req.wait_server, req.wait_client, req.user) == (0.0, 0.0, None)
    assert req.stackcheck == StackCheck(True, True, True)


def test_reconnect_connects_after_closing_clients() -> None:
    req = create("l:x,RECONNECT")
    assert req.reconnect and req.connect and not req.reuse
    assert "drop REUSE" in refused("l:x,RECONNECT,REUSE")
    assert "takes no value" in refused("l:x,RECONNECT:1")
    assert "RESUME" in refused("l:x,RESUME,RECONNECT")


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("ON", ProbeSpec(True, 20, 2.0)),
        ("on", ProbeSpec(True, 20, 2.0)),
        ("OFF", ProbeSpec(False, 20, 2.0)),
        ("3%1", ProbeSpec(True, 3, 1.0)),
        ("10%0.5", ProbeSpec(True, 10, 0.5)),
        ("1%0", ProbeSpec(True, 1, 0.0)),
    ],
)
@pytest.mark.parametrize("key", ["PING", "SSHPING"])
def test_ping_and_sshping(key: str, text: str, spec: ProbeSpec) -> None:
    req = create(f"l:x,{key}:{text}")
    assert (req.ping if key == "PING" else req.sshping) == spec


@pytest.mark.parametrize("text", ["x", "3", "0%1", "3%x", "3%-1", "-1%2", "3%1%1", "3%nan"])
def test_bad_ping_values_name_the_suboption(text: str) -> None:
    message = refused(f"l:x,PING:{text}")
    assert f"PING:{text}" in message


@given(st.integers(min_value=1, max_value=10000), st.integers(min_value=0, max_value=86400))
def test_any_count_and_sleep_parse(count: int, sleep: int) -> None:
    spec = parse_probe(Suboption("SSHPING", (str(count), str(sleep)), "SSHPING:x"))
    assert spec == ProbeSpec(True, count, float(sleep))


def test_waits_and_user() -> None:
    req = create("l:x,WAITS:3,WAITC:1.5,USER:root")
    assert (req.wait_server, req.wait_client, req.user) == (3.0, 1.5, "root")
    assert "seconds" in refused("l:x,WAITC:soon")
    assert "out of range" in refused("l:x,WAITS:-1")
    assert "expected WAITS:<seconds>" in refused("l:x,WAITS:1%2")
    assert "never taken on the command line" in refused("l:x,USER:root%secret")
    assert "login name" in refused("l:x,USER:-oProxyCommand=x")


def test_stackcheck_words() -> None:
    assert create("l:x,STACKCHECK:OFF").stackcheck.off
    assert create("l:x,STACKCHECK:NOHWCAP").stackcheck == StackCheck(True, False, True)
    check = create("l:x,STACKCHECK:nocontext%NOSTACKCAP%HWCAP").stackcheck
    assert check == StackCheck(False, True, False, sizes=True)
    assert not create("l:x,STACKCHECK:STACKCAP").stackcheck.sizes
    assert "unknown check 'FAST'" in refused("l:x,STACKCHECK:FAST")


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("S%-snapshot", ("-snapshot",)),
        ("S%-device%virtio-rng-pci", ("-device", "virtio-rng-pci")),
        ("-snapshot", ("-snapshot",)),  # ctys's form: no side field
        ("-device%e1000", ("-device", "e1000")),
    ],
)
def test_argsadd_server_side(text: str, args: tuple[str, ...]) -> None:
    assert create(f"l:x,ARGSADD:{text}").argsadd == args


@pytest.mark.parametrize(("side", "word"), [("C", "client"), ("B", "both")])
def test_argsadd_client_or_both_is_refused(side: str, word: str) -> None:
    message = refused(f"l:x,ARGSADD:{side}%-fullscreen")
    assert word in message and "only S" in message


def test_argsadd_s_alone_needs_arguments() -> None:
    assert "after S%" in refused("l:x,ARGSADD:S")


def test_consoles_of_the_original() -> None:
    assert create("l:x,CONSOLE:NONE").console is ConsoleKind.NONE
    assert create("l:x,CONSOLE:emacsm").console is ConsoleKind.EMACSM
    req = create("l:x,CONSOLE:VNC:5901")
    assert (req.console, req.vnc_port, req.console_given) == (ConsoleKind.VNC, 5901, True)
    assert "5900 to 65535" in refused("l:x,CONSOLE:VNC:80")
    assert "5900 to 65535" in refused("l:x,CONSOLE:VNC:x")
    assert "only VNC takes a port" in refused("l:x,CONSOLE:CLI:5901")


def test_parse_console_port() -> None:
    assert parse_console_port("vnc") == (ConsoleKind.VNC, None)
    assert parse_console_port("VNC:65535") == (ConsoleKind.VNC, 65535)


def test_bootmode_kernel() -> None:
    req = create("l:x,BOOTMODE:KERNEL")
    assert req.boot == BootSpec(BootMode.KERNEL)
    assert create("l:x,BOOTMODE:kernel%/k").boot == BootSpec(BootMode.KERNEL, Path("/k"))
    assert "not both" in refused("l:x,BOOTMODE:KERNEL%/k,KERNEL:/k2")


def test_instmode_default_in_path_fields_is_the_confs() -> None:
    req = create("l:x,INSTMODE:CD%default%HDD%DEFAULT%INIT")
    assert req.install is not None
    assert req.install.source.path is None and req.install.target.path is None
    assert "KERNEL" not in refused("l:x,INSTMODE:KERNEL%%HDD%%INIT").split("(")[-1]


def test_callopts_and_xopts() -> None:
    req = create("l:x,CALLOPTS:-Shared%-ViewOnly,X:-bg%black")
    assert req.callopts == ("-Shared", "-ViewOnly") and req.xopts == ("-bg", "black")
    assert create("l:x,C:-a,XOPTS:-b").callopts == ("-a",)
    assert "option words" in refused("l:x,CALLOPTS:-a%")


def test_dbrecord_is_the_address() -> None:
    [term] = create("DBRECORD:3,CONSOLE:NONE").selector.terms
    assert term.kind is AddressKind.DBRECORD and term.value == "3"


# --- the conf's defaults ---------------------------------------------------------------


def _conf(tmp_path: Path, *lines: str) -> VmConfig:
    (tmp_path / "vmlinuz").write_bytes(b"")
    conf = tmp_path / "d1.conf"
    conf.write_text("\n".join(["#@#MAGICID-QEMU", "#@#LABEL = d1", "KERNEL=vmlinuz", *lines]))
    return load_vm_config(conf)


def test_console_and_bootmode_from_the_conf(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "#@#DEFAULTCONSOLE = CLI", "DEFAULTBOOTMODE=KERNEL")
    req, _ = with_conf_defaults(create("l:d1"), conf)
    assert req.console is ConsoleKind.CLI and req.boot == BootSpec(BootMode.KERNEL)
    given, _ = with_conf_defaults(create("l:d1,CONSOLE:SDL,BOOTMODE:HDD%/d.img"), conf)
    assert given.console is ConsoleKind.SDL and given.boot == BootSpec(BootMode.HDD, Path("/d.img"))


def test_without_defaults_in_the_conf_vnc_and_no_boot_flag(tmp_path: Path) -> None:
    req, vmc = with_conf_defaults(create("l:d1"), _conf(tmp_path))
    assert (req.console, req.boot, vmc.vncport) == (ConsoleKind.VNC, None, None)


@pytest.mark.parametrize(
    ("line", "key"),
    [("#@#DEFAULTCONSOLE = TELNET", "DEFAULTCONSOLE"), ("DEFAULTBOOTMODE=TAPE", "DEFAULTBOOTMODE")],
)
def test_a_bad_default_names_the_conf_and_key(tmp_path: Path, line: str, key: str) -> None:
    with pytest.raises(VmError) as info:
        with_conf_defaults(create("l:d1"), _conf(tmp_path, line))
    assert "d1.conf" in str(info.value) and key in str(info.value)


def test_console_vnc_port_becomes_the_vms_port(tmp_path: Path) -> None:
    _, vmc = with_conf_defaults(create("l:d1,CONSOLE:VNC:5977"), _conf(tmp_path))
    assert vmc.vncport == 5977
    fixed = _conf(tmp_path, "#@#VNCACCESSPORT = 5980")
    assert with_conf_defaults(create("l:d1,CONSOLE:VNC:5980"), fixed)[1].vncport == 5980
    with pytest.raises(VmError, match="has VNC port 5980"):
        with_conf_defaults(create("l:d1,CONSOLE:VNC:5977"), fixed)


# --- argv ------------------------------------------------------------------------------

RUN = VmRuntimeDir(Path("/run/ctys/vms/vm1-0123abcd"))


def _argv(v: VmConfig, req: CreateRequest) -> list[str]:
    spec = LaunchSpec(
        vm=v, binary="qemu", accelerator=Accelerator.TCG, rundir=RUN,
        boot=req.boot, kernel=req.kernel, argsadd=req.argsadd, vnc=req.console.prepares_vnc,
    )  # fmt: skip
    return build_argv(spec)


def test_bootmode_kernel_boots_the_confs_kernel_or_the_path() -> None:
    v = vm(hdd=(Path("/d.qcow2"),), kernel=Path("/k"), initrd=Path("/i"), append="quiet")
    argv = _argv(v, create("l:vm1,BOOTMODE:KERNEL"))
    assert argv[-6:] == ["-append", "quiet", "-initrd", "/i", "-kernel", "/k"]
    assert "-boot" not in argv
    argv = _argv(v, create("l:vm1,BOOTMODE:KERNEL%/other"))
    assert argv[-2:] == ["-kernel", "/other"] and "/i" in argv


def test_bootmode_kernel_without_a_kernel_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(VmError, match="KERNELIMAGE"):
        _argv(vm(hdd=(Path("/d.qcow2"),)), create("l:vm1,BOOTMODE:KERNEL"))
    disk = tmp_path / "d.img"
    disk.write_bytes(b"")
    with pytest.raises(VmError, match="KERNELIMAGE"):
        check_media(vm(hdd=(disk,)), BootSpec(BootMode.KERNEL), None)


def test_argsadd_s_reaches_qemu_without_the_s() -> None:
    argv = _argv(vm(kernel=Path("/k")), create("l:vm1,ARGSADD:S%-snapshot"))
    assert "-snapshot" in argv and "S" not in argv


def test_console_none_has_no_vnc_server() -> None:
    argv = _argv(vm(kernel=Path("/k")), create("l:vm1,CONSOLE:NONE"))
    assert "-vnc" not in argv and argv[argv.index("-display") :][:2] == ["-display", "none"]


# --- PING / SSHPING --------------------------------------------------------------------


def test_poll_tries_count_times_interval_apart() -> None:
    calls: list[list[str]] = []
    slept: list[float] = []

    def run(argv: object) -> tuple[int, str]:
        calls.append(list(argv))  # type: ignore[call-overload]
        return (0, "") if len(calls) == 3 else (1, "Connection refused")

    assert (
        poll(["x"], ProbeSpec(True, 5, 1.5), alive=lambda: True, run=run, sleep=slept.append)
        is None
    )
    assert len(calls) == 3 and slept == [1.5, 1.5]
    calls.clear()
    slept.clear()
    failed = poll(
        ["x"],
        ProbeSpec(True, 2, 4),
        alive=lambda: True,
        run=lambda a: (1, "no"),
        sleep=slept.append,
    )
    assert failed == (2, "no") and slept == [4]


def test_poll_stops_when_the_vm_ends() -> None:
    assert poll(["x"], ProbeSpec(True, 9, 1), alive=lambda: False, run=lambda a: (1, ""),
                sleep=lambda s: None) == (1, "the VM ended")  # fmt: skip


def test_sshping_goes_through_a_hostfwd_to_the_ssh_port() -> None:
    v = vm(raw=None, kernel=Path("/k"))
    net = network_config(v, args=("-netdev", "user,id=n0"))  # the args carry the NIC: none
    assert ssh_target(v, net) is None
    conf_vm = dataclasses.replace(v, ip="10.1.1.5")
    assert ssh_target(conf_vm, net) == SshTarget("10.1.1.5", 22)


def test_sshping_target_from_a_confs_hostfwd(tmp_path: Path) -> None:
    v = _conf(tmp_path, "#@#HOSTFWD = tcp:127.0.0.1:2299-:22")
    assert ssh_target(v, network_config(v)) == SshTarget("127.0.0.1", 2299)
    other = _conf(tmp_path, "#@#HOSTFWD = tcp:127.0.0.1:2299-:2222", "#@#SSHPORT = 2222")
    assert ssh_target(other, network_config(other)) == SshTarget("127.0.0.1", 2299)


def test_sshping_argv_never_asks_and_honours_the_ssh_config() -> None:
    argv = sshping_argv(SshTarget("h", 2299), "root", {"CTYS_SSH_CONFIG": "/c"})
    assert argv[:3] == ["ssh", "-o", "BatchMode=yes"]
    assert argv[argv.index("-F") + 1] == "/c" and argv[argv.index("-l") + 1] == "root"
    assert argv[-3:] == ["--", "h", "true"] and argv[argv.index("-p") + 1] == "2299"
    assert "-l" not in sshping_argv(SshTarget("h", 22), None, {})


def test_a_probe_with_nothing_to_reach_is_refused_before_the_boot(tmp_path: Path) -> None:
    v = _conf(tmp_path)
    with pytest.raises(VmError, match="no address to ping"):
        check_probe_targets(v, create("l:d1,PING:ON"), network_config(v))
    with pytest.raises(VmError, match="HOSTFWD"):
        check_probe_targets(v, create("l:d1,SSHPING:ON"), network_config(v))
    check_probe_targets(v, create("l:d1"), network_config(v))  # nothing asked, nothing checked


# --- STACKCHECK ------------------------------------------------------------------------


_ALL_CHECKS = StackCheck()


def _stack(v: VmConfig, check: StackCheck = _ALL_CHECKS, **kw: object) -> None:
    options: dict[str, object] = {
        "flags": frozenset({"VMX", "PAE", "LM"}),
        "cpus": 2,
        "memory_mb": lambda: 4096,
        "kvm_usable": lambda: False,
    }
    options.update(kw)
    check_stack(v, check, **options)  # type: ignore[arg-type]


def test_requirement_words() -> None:
    assert requirement_words(" qemu-0.12.2, VMX;pae ") == ["QEMU", "VMX", "PAE"]


def test_stackreq_against_the_host() -> None:
    _stack(vm(qemu_binary="/q", facts=VmFacts(stackreq="QEMU,VMX,HVM")))
    with pytest.raises(VmError, match=r"requires XEN .*offers HVM, QEMU, VMX"):
        _stack(vm(qemu_binary="/q", facts=VmFacts(stackreq="XEN")))
    with pytest.raises(VmError, match="requires KVM"):
        _stack(vm(qemu_binary="/q", facts=VmFacts(stackreq="KVM")))
    _stack(vm(qemu_binary="/q", facts=VmFacts(stackreq="KVM")), kvm_usable=lambda: True)
    _stack(vm(facts=VmFacts(stackreq="XEN")), StackCheck(stackcap=False))


def test_hwcap_cpus_memory_and_flags() -> None:
    sizes = StackCheck(sizes=True)
    with pytest.raises(VmError, match="wants 4 CPUs, this host has 2"):
        _stack(vm(vcpu=4), sizes)
    with pytest.raises(VmError, match="8192 MiB"):
        _stack(vm(memsize_mb=8192), sizes)
    _stack(vm(vcpu=4, memsize_mb=8192))  # qemu allows both; checked only when asked
    with pytest.raises(VmError, match="SVM"):
        _stack(vm(facts=VmFacts(hwreq="pae,svm")))
    _stack(vm(vcpu=4, memsize_mb=8192, facts=VmFacts(hwreq="svm")), StackCheck(hwcap=False))
    _stack(vm(vcpu=9, facts=VmFacts(stackreq="XEN")), StackCheck(False, False, False))


# --- RECONNECT's clients ---------------------------------------------------------------


def _record(**kw: object) -> RuntimeRecord:
    base: dict[str, object] = {"vmid": "vm1-0123abcd", "label": "vm1", "conf": "/c", "pid": 42}
    base.update(kw)
    return RuntimeRecord(**base)  # type: ignore[arg-type]


def test_client_markers_name_the_vm() -> None:
    markers = client_markers(_record(vnc_socket="/run/x/vnc.sock"))
    assert is_client(["xterm", "-e", "ctys", "-a", "CREATE=VMID:vm1-0123abcd,CONNECT"], markers)
    assert is_client(["/usr/bin/vncviewer", "/run/x/vnc.sock"], markers)
    assert not is_client(["vncviewer", "/run/y/vnc.sock"], markers)
    assert not is_client(["ctys", "-a", "CREATE=VMID:vm2-0123abcd,CONNECT"], markers)
    tcp = client_markers(_record(vnc_display=3, vnc_host="127.0.0.1"))
    assert is_client(["vncviewer", "127.0.0.1::5903"], tcp)
    assert is_client(["remote-viewer", "vnc://127.0.0.1:5903"], tcp)


def test_console_holder_is_the_attached_process(short_tmp: Path) -> None:
    rundir = VmRuntimeDir(short_tmp)
    assert console_holder(rundir) is None
    with claim_console(rundir.console):
        assert console_holder(rundir) == os.getpid()
    assert console_holder(rundir) is None


# --- viewers ---------------------------------------------------------------------------


def test_viewer_options_go_right_after_the_program() -> None:
    def which(name: str) -> str:
        return f"/usr/bin/{name}"

    argv = console_argv(ConsoleKind.VNC, label="vm1", vmid="v", session_type="QEMU",
                        vnc_socket="/s", which=which, env={"DISPLAY": ":0"},
                        extra=("-Shared", "-bg"))  # fmt: skip
    assert argv == ["/usr/bin/vncviewer", "-Shared", "-bg", "/s"]
    emacs = console_argv(ConsoleKind.EMACSM, label="vm1", vmid="v", session_type="QEMU",
                         which=which, env={"DISPLAY": ":0"})  # fmt: skip
    assert emacs[0] == "/usr/bin/emacsclient" and "(term-mode)" in emacs[-1]
    assert "ansi-term" not in emacs[-1]


# --- -n --------------------------------------------------------------------------------


def test_dry_run_prints_the_argv_and_starts_nothing(
    tmp_path: Path, short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTYS_ACCEL", "tcg")
    fake = tmp_path / "qemu-never-run"
    fake.write_text("#!/bin/sh\ntouch " + str(tmp_path / "ran") + "\n")
    fake.chmod(0o755)
    (tmp_path / "vm lin$uz").write_bytes(b"")
    conf = tmp_path / "dry.conf"
    conf.write_text(f"#@#MAGICID-QEMU\n#@#LABEL = dry\nKERNEL='vm lin$uz'\nQEMUBIN={fake}\n")
    runtime = RuntimeDir(short_tmp / "rt")
    invocation = dataclasses.replace(scan_argv(["-t", "QEMU", "-a", "CREATE"]), dry_run=True)
    out, err = io.StringIO(), io.StringIO()
    req = create(f"F:{conf},CONSOLE:VNC:5977,ARGSADD:S%-snapshot")
    assert run_create(req, RunContext(invocation, out, err), runtime) == 0
    [line] = out.getvalue().splitlines()
    assert line.startswith(f"{fake} -name guest=dry ")
    assert "'" + str(tmp_path / "vm lin$uz") + "'" in line  # shell-quoted
    assert "-snapshot" in line and "127.0.0.1:77,password=on" in line
    assert not (tmp_path / "ran").exists()
    assert not list(runtime.root.glob("vms/*")) and not list(runtime.root.glob("locks/*"))


def test_cli0_refuses_waits_and_probes(tmp_path: Path, short_tmp: Path) -> None:
    (tmp_path / "k").write_bytes(b"")
    conf = tmp_path / "fg.conf"
    conf.write_text("#@#MAGICID-QEMU\n#@#LABEL = fg\nKERNEL=k\n")
    ctx = RunContext(scan_argv(["-t", "QEMU", "-a", "CREATE"]), io.StringIO(), io.StringIO())
    with pytest.raises(UsageError, match="CLI0 holds this terminal"):
        run_create(create(f"F:{conf},CONSOLE:CLI0,WAITS:1"), ctx, RuntimeDir(short_tmp / "rt"))
    assert not list((short_tmp / "rt").glob("vms/*"))


def test_the_vms_own_qemu_is_never_its_client(short_tmp: Path) -> None:
    import subprocess
    import sys

    from ctys.plugins.qemu.actions.clients import find_clients

    rundir = VmRuntimeDir(short_tmp / "vm1")
    record = _record(vnc_socket=str(rundir.vnc_socket), pid=None)
    code = "import time; time.sleep(30)"
    qemu_like = subprocess.Popen(  # names the socket and the QMP path, as qemu's argv does
        [sys.executable, "-c", code, f"unix:{rundir.vnc_socket}", f"unix:{rundir.qmp}"]
    )
    viewer = subprocess.Popen([sys.executable, "-c", code, str(rundir.vnc_socket)])
    try:
        found = {client.pid for client in find_clients(rundir, record)}
        assert viewer.pid in found and qemu_like.pid not in found
    finally:
        for proc in (qemu_like, viewer):
            proc.kill()
            proc.wait()


def test_one_try_reports_the_programs_complaint() -> None:
    from ctys.plugins.qemu.actions.guestprobe import run_try

    assert run_try(["true"]) == (0, "")
    assert run_try(["sh", "-c", "echo first >&2; echo 'Permission denied' >&2; exit 255"]) == (
        255,
        "Permission denied",
    )
    status, why = run_try(["no-such-probe-program"])
    assert status != 0 and "not installed" in why
