"""Unit tests of QEMU detection: parsers on real captured output, the cache, the KVM
verdict and the accelerator choice. No qemu is run (probing is faked)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ctys.errors import CommandError, VmError
from ctys.plugins.qemu.host import detect, kvmprobe
from ctys.plugins.qemu.host.capcache import BinaryStamp, CapCache, cache_file
from ctys.plugins.qemu.host.detect import (
    HostCapabilities,
    QemuCapabilities,
    arch_of_name,
    binary_for_arch,
    cached_capabilities,
    find_qemu_binaries,
    host_report,
    parse_accelerators,
    parse_displays,
    parse_machines,
    parse_options,
    parse_version,
    run_capture,
)
from ctys.plugins.qemu.host.kvmprobe import (
    KvmState,
    ProbeObservation,
    choose_accelerator,
    judge_probe,
)
from ctys.plugins.qemu.vmconfig import Accelerator

# ---- real output of Debian 12's qemu-system-x86_64 7.2.22, captured on the build host

VERSION_X86_64 = """\
QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)
Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers
"""

ACCEL_X86_64 = """\
Accelerators supported in QEMU binary:
tcg
kvm
"""

ACCEL_MICROVM = """\
Accelerators supported in QEMU binary:
kvm
"""

MACHINES_X86_64 = """\
Supported machines are:
microvm              microvm (i386)
pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)
pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)
pc-i440fx-7.1        Standard PC (i440FX + PIIX, 1996)
pc-i440fx-2.0        Standard PC (i440FX + PIIX, 1996)
q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)
pc-q35-7.2           Standard PC (Q35 + ICH9, 2009)
pc-q35-4.0.1         Standard PC (Q35 + ICH9, 2009)
isapc                ISA-only PC
none                 empty machine
x-remote             Experimental remote machine
"""

MACHINES_MICROVM = """\
Supported machines are:
microvm              microvm (i386) (default)
q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)
pc-q35-7.2           Standard PC (Q35 + ICH9, 2009)
none                 empty machine
"""

DISPLAY_X86_64 = """\
Available display backend types:
none
gtk
sdl
egl-headless
curses
spice-app
dbus
"""

HELP_X86_64 = """\
QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)
Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers
usage: qemu-system-x86_64 [options] [disk_image]

'disk_image' is a raw hard disk image for IDE hard disk 0

Standard options:
-h or -help     display this help and exit
-version        display version information and exit
-machine [type=]name[,prop[=value][,...]]
                selects emulated machine ('-machine help' for list)
                property accel=accel1[:accel2[:...]] selects accelerator
-uuid %08x-%04x-%04x-%04x-%012x
                specify machine UUID

Block device options:
-fda/-fdb file  use 'file' as floppy disk 0/1 image
-hda/-hdb file  use 'file' as hard disk 0/1 image
-hdc/-hdd file  use 'file' as hard disk 2/3 image
Display options:
-display spice-app[,gl=on|off]
-display sdl[,gl=on|core|es|off][,grab-mod=<mod>][,show-cursor=on|off]
            [,window-close=on|off]
-display gtk[,full-screen=on|off][,gl=on|off][,grab-on-hover=on|off]
            [,show-tabs=on|off][,show-cursor=on|off][,window-close=on|off]
            [,show-menubar=on|off]
-display vnc=<display>[,<optargs>]
-display curses[,charset=<encoding>]
-display egl-headless[,rendernode=<file>]
-display dbus[,addr=<dbusaddr>]
             [,gl=on|core|es|off][,rendernode=<file>]
-display none
                select display backend type
                The default display is equivalent to
                "-display gtk"
-nographic      disable graphical output and redirect serial I/Os to console
-full-screen    start in full screen
-vnc <display>  shorthand for -display vnc=<display>

-chardev help
-chardev null,id=id[,mux=on|off][,logfile=PATH][,logappend=on|off]
-chardev socket,id=id[,host=host],port=port[,to=to][,ipv4=on|off][,ipv6=on|off][,nodelay=on|off]
-qmp dev        like -monitor but opens in 'control' mode
-qmp-pretty dev like -qmp but uses pretty JSON formatting
-mon [chardev=]name[,mode=readline|control][,pretty[=on|off]]
                configure a monitor
-debugcon dev   redirect the debug console to char device 'dev'
-pidfile file   write PID to 'file'
-singlestep     always run in singlestep mode
--preconfig     pause QEMU before machine is initialized (experimental)
-no-reboot      exit instead of rebooting
-daemonize      daemonize QEMU after initializing
-nodefaults     don't create default devices
"""


# ---- parsers


def test_parse_version_real_banner() -> None:
    assert parse_version(VERSION_X86_64) == ("7.2.22", (7, 2, 22))


@pytest.mark.parametrize(
    ("banner", "expected"),
    [
        ("QEMU emulator version 8.2.0\n", ("8.2.0", (8, 2, 0))),
        ("QEMU emulator version 2.11\n", ("2.11", (2, 11))),
        ("QEMU emulator version 9.0.50 (v9.0.0-1234-gdeadbeef)\n", ("9.0.50", (9, 0, 50))),
    ],
)
def test_parse_version_variants(banner: str, expected: tuple[str, tuple[int, ...]]) -> None:
    assert parse_version(banner) == expected


def test_parse_version_rejects_other_programs() -> None:
    with pytest.raises(VmError, match="not a QEMU version banner"):
        parse_version("bochs 2.7\n")


def test_parse_machines_keeps_order_and_finds_default() -> None:
    machines, default = parse_machines(MACHINES_X86_64)
    assert machines[:3] == ("microvm", "pc", "pc-i440fx-7.2")
    assert "q35" in machines
    assert "pc-q35-4.0.1" in machines
    assert machines[-1] == "x-remote"
    assert default == "pc-i440fx-7.2"  # not "pc": the alias line does not carry (default)


def test_parse_machines_microvm_default_first() -> None:
    machines, default = parse_machines(MACHINES_MICROVM)
    assert machines == ("microvm", "q35", "pc-q35-7.2", "none")
    assert default == "microvm"


def test_parse_machines_empty_output() -> None:
    assert parse_machines("") == ((), None)


def test_parse_accelerators() -> None:
    assert parse_accelerators(ACCEL_X86_64) == {"tcg", "kvm"}
    assert parse_accelerators(ACCEL_MICROVM) == {"kvm"}
    assert parse_accelerators("qemu: unknown option\n") == frozenset()


def test_parse_displays() -> None:
    assert parse_displays(DISPLAY_X86_64) == {
        "none",
        "gtk",
        "sdl",
        "egl-headless",
        "curses",
        "spice-app",
        "dbus",
    }


def test_parse_options_top_level_only() -> None:
    options = parse_options(HELP_X86_64)
    for wanted in (
        "-qmp",
        "-vnc",
        "-daemonize",
        "-pidfile",
        "-chardev",
        "-display",
        "-nodefaults",
        "-no-reboot",
        "-debugcon",
        "-machine",
        "-qmp-pretty",
        "--preconfig",
    ):
        assert wanted in options, wanted
    # "-h or -help" and "-fda/-fdb" name two options each
    assert {"-h", "-help", "-fda", "-fdb", "-hdc", "-hdd"} <= options
    # continuation lines and sub-options are not options
    assert "selects" not in options
    assert not any(o.startswith("-display ") or "," in o or "[" in o for o in options)
    assert "-accel" not in options  # not in this slice of the help


def test_parse_options_ignores_indented_and_prose_lines() -> None:
    text = "usage: qemu [options]\n    -notreal  indented\nStandard options:\n-m size\n"
    assert parse_options(text) == {"-m"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("qemu-system-x86_64", ("x86_64", "")),
        ("qemu-system-x86_64-microvm", ("x86_64", "microvm")),
        ("qemu-system-aarch64", ("aarch64", "")),
        ("qemu-system-mips64el", ("mips64el", "")),
    ],
)
def test_arch_of_name(name: str, expected: tuple[str, str]) -> None:
    assert arch_of_name(name) == expected


def test_arch_of_kvm_names_is_host_arch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platform.machine", lambda: "arm64")
    assert arch_of_name("qemu-kvm") == ("aarch64", "")
    assert arch_of_name("kvm") == ("aarch64", "")


# ---- finding binaries


def _exe(path: Path, text: str = "#!/bin/sh\n") -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_find_qemu_binaries_dedupes_and_filters(tmp_path: Path) -> None:
    bin1 = tmp_path / "bin1"
    bin2 = tmp_path / "bin2"
    opt = tmp_path / "opt" / "qemu" / "8.2" / "bin"
    for directory in (bin1, bin2, opt):
        directory.mkdir(parents=True)
    real = _exe(bin1 / "qemu-system-x86_64")
    (bin1 / "kvm").symlink_to(real)  # same binary twice: reported once
    (bin2 / "qemu-system-x86_64").symlink_to(real)
    _exe(bin2 / "qemu-system-aarch64")
    _exe(bin2 / "qemu-img")  # a tool, not a system emulator
    (bin2 / "qemu-system-riscv64").write_text("not executable")
    _exe(opt / "qemu-system-x86_64")  # a separate install: reported
    search = os.pathsep.join([str(bin1), str(bin2), str(tmp_path / "missing")])

    found = find_qemu_binaries(search, extra_dirs=(str(tmp_path / "opt/qemu/*/bin"),))

    assert found == [real, bin2 / "qemu-system-aarch64", opt / "qemu-system-x86_64"]


def test_find_qemu_binaries_keeps_link_name_when_target_name_is_opaque(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    target = _exe(store / ".qemu-system-aarch64-wrapped")
    (tmp_path / "bin").mkdir()
    link = tmp_path / "bin" / "qemu-system-aarch64"
    link.symlink_to(target)
    assert find_qemu_binaries(str(tmp_path / "bin"), extra_dirs=()) == [link]


# ---- run helper


def test_run_capture_returns_stdout() -> None:
    assert run_capture(["/bin/echo", "hello"]) == "hello\n"


def test_run_capture_failure_carries_stderr() -> None:
    with pytest.raises(CommandError, match="exit 3") as info:
        run_capture(["/bin/sh", "-c", "echo broken >&2; exit 3"])
    assert "broken" in info.value.stderr


def test_run_capture_missing_program() -> None:
    with pytest.raises(VmError, match="cannot run"):
        run_capture(["/nonexistent/qemu-system-x86_64", "-version"])


def test_run_capture_timeout() -> None:
    with pytest.raises(VmError, match="did not finish"):
        run_capture(["/bin/sleep", "5"], timeout=0.2)


# ---- probing with a fake qemu and the cache


FAKE_QEMU = f"""#!/bin/sh
echo "$@" >> "$(dirname "$0")/calls.log"
case "$1 $2" in
  "-version "*) cat <<'EOF'
{VERSION_X86_64}EOF
  ;;
  "-machine help") cat <<'EOF'
{MACHINES_X86_64}EOF
  ;;
  "-accel help") cat <<'EOF'
{ACCEL_X86_64}EOF
  ;;
  "-display help") cat <<'EOF'
{DISPLAY_X86_64}EOF
  ;;
  "-help "*) cat <<'EOF'
{HELP_X86_64}EOF
  ;;
  *) exit 1 ;;
esac
"""


@pytest.fixture
def fake_qemu(tmp_path: Path) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    return _exe(bindir / "qemu-system-x86_64", FAKE_QEMU)


def _calls(fake: Path) -> int:
    log = fake.parent / "calls.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_probe_binary_reads_everything(fake_qemu: Path) -> None:
    caps = detect.probe_binary(fake_qemu)
    assert caps.path == fake_qemu
    assert caps.version == "7.2.22"
    assert caps.version_info == (7, 2, 22)
    assert (caps.arch, caps.variant) == ("x86_64", "")
    assert caps.default_machine == "pc-i440fx-7.2"
    assert caps.accelerators == {"tcg", "kvm"}
    assert "curses" in caps.displays
    assert caps.has_option("qmp") and caps.has_option("-daemonize")
    assert not caps.has_option("-no-such-option")


def test_capabilities_json_round_trip(fake_qemu: Path) -> None:
    caps = detect.probe_binary(fake_qemu)
    assert QemuCapabilities.from_json(json.loads(json.dumps(caps.to_json()))) == caps


def test_cache_hit_miss_and_mtime_invalidation(fake_qemu: Path, tmp_path: Path) -> None:
    cache_path = tmp_path / "cache" / "qemu-caps.json"
    first = cached_capabilities(fake_qemu, CapCache(cache_path))
    assert _calls(fake_qemu) == 5  # a miss probes: five queries
    # nothing saved yet: a fresh cache object misses again
    cache = CapCache(cache_path)
    cached_capabilities(fake_qemu, cache)
    cache.save()
    assert _calls(fake_qemu) == 10

    again = cached_capabilities(fake_qemu, CapCache(cache_path))
    assert again == first
    assert _calls(fake_qemu) == 10  # hit: qemu not run

    info = fake_qemu.stat()
    os.utime(fake_qemu, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
    cached_capabilities(fake_qemu, CapCache(cache_path))
    assert _calls(fake_qemu) == 15  # binary changed: probed again


def test_cache_refresh_forces_probe(fake_qemu: Path, tmp_path: Path) -> None:
    cache = CapCache(tmp_path / "c.json")
    cached_capabilities(fake_qemu, cache)
    cached_capabilities(fake_qemu, cache, refresh=True)
    assert _calls(fake_qemu) == 10


def test_cache_size_change_is_a_miss(tmp_path: Path) -> None:
    binary = _exe(tmp_path / "qemu-system-x86_64")
    cache = CapCache(tmp_path / "c.json")
    cache.put("caps", BinaryStamp.of(binary), {"x": 1})
    assert cache.get("caps", BinaryStamp.of(binary)) == {"x": 1}
    info = binary.stat()
    binary.write_text("#!/bin/sh\n# longer\n")
    os.utime(binary, ns=(info.st_atime_ns, info.st_mtime_ns))  # same mtime, other size
    assert cache.get("caps", BinaryStamp.of(binary)) is None


def test_cache_extra_keys_must_match(tmp_path: Path) -> None:
    binary = _exe(tmp_path / "qemu-system-x86_64")
    cache = CapCache(tmp_path / "c.json")
    stamp = BinaryStamp.of(binary)
    cache.put("kvm", stamp, {"usable": False, "reason": "r"}, boot_id="boot-1")
    assert cache.get("kvm", stamp, boot_id="boot-1") == {"usable": False, "reason": "r"}
    assert cache.get("kvm", stamp, boot_id="boot-2") is None


@pytest.mark.parametrize(
    "garbage",
    ["{not json", "[]", '{"format": 99, "caps": {}}', '{"format": 1, "caps": []}', ""],
)
def test_corrupt_cache_is_ignored_and_rewritten(
    fake_qemu: Path, tmp_path: Path, garbage: str
) -> None:
    cache_path = tmp_path / "qemu-caps.json"
    cache_path.write_text(garbage)
    cache = CapCache(cache_path)
    caps = cached_capabilities(fake_qemu, cache)
    cache.save()
    document = json.loads(cache_path.read_text())
    assert document["format"] == 1
    assert document["caps"][str(fake_qemu)]["payload"]["version"] == "7.2.22"
    assert cached_capabilities(fake_qemu, CapCache(cache_path)) == caps
    assert _calls(fake_qemu) == 5


def test_cache_entry_with_bad_payload_is_reprobed(fake_qemu: Path, tmp_path: Path) -> None:
    cache = CapCache(tmp_path / "c.json")
    cache.put("caps", BinaryStamp.of(fake_qemu), {"version": "7.2.22"})  # fields missing
    assert cached_capabilities(fake_qemu, cache).version == "7.2.22"
    assert _calls(fake_qemu) == 5


def test_cache_save_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    cache_path = tmp_path / "sub" / "qemu-caps.json"
    cache = CapCache(cache_path)
    binary = _exe(tmp_path / "qemu-system-x86_64")
    cache.put("caps", BinaryStamp.of(binary), {"v": 1})
    cache.save()
    assert sorted(p.name for p in cache_path.parent.iterdir()) == ["qemu-caps.json"]


def test_cache_file_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_file() == tmp_path / "ctys" / "qemu-caps.json"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_file() == tmp_path / "home" / ".cache" / "ctys" / "qemu-caps.json"


# ---- choosing a binary, reporting


def _caps(
    path: str, version: tuple[int, ...] = (7, 2, 22), accels: str = "kvm,tcg"
) -> QemuCapabilities:
    arch, variant = arch_of_name(Path(path).name)
    return QemuCapabilities(
        path=Path(path),
        version=".".join(map(str, version)),
        version_info=version,
        arch=arch,
        variant=variant,
        machines=("q35",),
        default_machine="q35",
        accelerators=frozenset(accels.split(",")),
        options=frozenset({"-qmp"}),
        displays=frozenset({"none"}),
    )


def test_binary_for_arch_prefers_plain_then_newest() -> None:
    host = HostCapabilities(
        binaries=(
            _caps("/usr/bin/qemu-system-x86_64-microvm", accels="kvm"),
            _caps("/usr/bin/qemu-system-x86_64"),
            _caps("/opt/qemu/bin/qemu-system-x86_64", version=(8, 2, 0)),
            _caps("/usr/bin/qemu-system-i386"),
        ),
        kvm=KvmState(False, "test"),
    )
    assert binary_for_arch(host, "x86_64").path == Path("/opt/qemu/bin/qemu-system-x86_64")
    assert binary_for_arch(host, "i386").path == Path("/usr/bin/qemu-system-i386")


def test_binary_for_arch_missing_names_package() -> None:
    host = HostCapabilities(
        binaries=(_caps("/usr/bin/qemu-system-x86_64"),), kvm=KvmState(False, "x")
    )
    with pytest.raises(VmError, match=r"no qemu-system-aarch64 found; install qemu-system-arm"):
        binary_for_arch(host, "aarch64")
    with pytest.raises(VmError, match=r"no qemu-system-or1k found; install qemu-system-or1k"):
        binary_for_arch(host, "or1k")


def test_host_report_rows() -> None:
    host = HostCapabilities(
        binaries=(
            _caps("/usr/bin/qemu-system-x86_64"),
            _caps("/usr/bin/qemu-system-x86_64-microvm", accels="kvm"),
            _caps("/usr/bin/qemu-system-arm", accels="tcg"),
        ),
        kvm=KvmState(False, "KVM internal error in the probe guest"),
    )
    rows = host_report(host)
    assert rows[0] == {
        "binary": "/usr/bin/qemu-system-x86_64",
        "version": "7.2.22",
        "arch": "x86_64",
        "accelerators": "kvm,tcg",
        "default machine": "q35",
        "kvm": "unusable: KVM internal error in the probe guest",
    }
    assert rows[1]["arch"] == "x86_64 (microvm)"
    assert rows[2]["kvm"] == "not supported by binary"


def test_detect_host_skips_broken_binaries(
    fake_qemu: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _exe(fake_qemu.parent / "qemu-system-aarch64", "#!/bin/sh\nexit 1\n")
    monkeypatch.setattr(
        detect, "find_qemu_binaries", lambda: [fake_qemu, fake_qemu.parent / "qemu-system-aarch64"]
    )
    seen: list[Path | None] = []

    def fake_kvm_state(
        binary: Path | None, cache: CapCache | None = None, refresh: bool = False
    ) -> KvmState:
        seen.append(binary)
        return KvmState(True, "fake")

    monkeypatch.setattr(detect, "kvm_state", fake_kvm_state)
    monkeypatch.setattr(detect, "host_arch", lambda: "x86_64")
    host = detect.detect_host(cache=CapCache(tmp_path / "c.json"))
    assert [caps.path for caps in host.binaries] == [fake_qemu]
    assert seen == [fake_qemu]  # probed with the binary that has kvm + q35
    assert (tmp_path / "c.json").exists()


# ---- the KVM verdict


def _seen(**changes: object) -> ProbeObservation:
    base: dict[str, object] = {
        "kvm_returncode": None,
        "kvm_stderr": "",
        "kvm_status": "running",
        "kvm_post_seconds": None,
        "tcg_post_seconds": None,
        "deadline": 1.5,
    }
    base.update(changes)
    return ProbeObservation(**base)  # type: ignore[arg-type]


def test_judge_internal_error_status() -> None:
    state = judge_probe(_seen(kvm_status="internal-error"))
    assert not state.usable
    assert "internal error" in state.reason


def test_judge_internal_error_on_stderr_wins_over_exit() -> None:
    stderr = (
        "qemu-system-x86_64: warning: foo\nKVM internal error. Suberror: 1\nemulation failure\n"
    )
    state = judge_probe(_seen(kvm_returncode=1, kvm_stderr=stderr, kvm_status=None))
    assert not state.usable
    assert "KVM internal error. Suberror: 1" in state.reason


def test_judge_kvm_init_failure() -> None:
    stderr = (
        "Could not access KVM kernel module: No such file or directory\n"
        "qemu-system-x86_64: failed to initialize kvm: No such file or directory\n"
    )
    state = judge_probe(_seen(kvm_returncode=1, kvm_stderr=stderr, kvm_status=None))
    assert not state.usable
    assert "Could not access KVM kernel module" in state.reason


def test_judge_exit_without_message() -> None:
    state = judge_probe(_seen(kvm_returncode=134, kvm_status=None))
    assert not state.usable
    assert "exit 134" in state.reason


def test_judge_fast_post_is_usable() -> None:
    state = judge_probe(_seen(kvm_post_seconds=0.12, tcg_post_seconds=0.3))
    assert state.usable
    assert "0.12s" in state.reason


def test_judge_kvm_slower_than_tcg_is_unusable() -> None:
    state = judge_probe(_seen(tcg_post_seconds=0.11))
    assert not state.usable
    assert "slower than TCG" in state.reason and "0.11s" in state.reason


def test_judge_no_post_log_falls_back_to_status() -> None:
    assert judge_probe(_seen()).usable
    assert not judge_probe(_seen(kvm_status=None)).usable
    paused = judge_probe(_seen(kvm_status="paused"))
    assert not paused.usable and "paused" in paused.reason


def test_check_dev_kvm(tmp_path: Path) -> None:
    missing = kvmprobe.check_dev_kvm(tmp_path / "kvm")
    assert missing is not None and not missing.usable and "does not exist" in missing.reason
    device = tmp_path / "dir"
    device.mkdir()  # exists but cannot be opened read-write
    refused = kvmprobe.check_dev_kvm(device)
    assert refused is not None and "cannot open" in refused.reason
    ok = tmp_path / "file"
    ok.write_text("")
    assert kvmprobe.check_dev_kvm(ok) is None


def test_ctys_accel_tcg_skips_probe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CTYS_ACCEL", "tcg")
    monkeypatch.setattr(kvmprobe, "probe_kvm", lambda *a, **k: pytest.fail("probe ran"))
    state = kvmprobe.kvm_state(Path("/usr/bin/qemu-system-x86_64"), CapCache(tmp_path / "c.json"))
    assert state == KvmState(False, "KVM disabled by the user (CTYS_ACCEL=tcg)")


def test_kvm_verdict_cached_per_binary_and_boot(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CTYS_ACCEL", raising=False)
    monkeypatch.setattr(kvmprobe, "check_dev_kvm", lambda device=None: None)
    boot = ["boot-a"]
    monkeypatch.setattr(kvmprobe, "boot_id", lambda: boot[0])
    probes: list[Path] = []

    def fake_probe(binary: Path, deadline: float = 1.5, baseline: bool = True) -> KvmState:
        probes.append(binary)
        return KvmState(False, f"probe {len(probes)}")

    monkeypatch.setattr(kvmprobe, "probe_kvm", fake_probe)
    binary = _exe(tmp_path / "qemu-system-x86_64")
    cache_path = tmp_path / "c.json"

    assert kvmprobe.kvm_state(binary, CapCache(cache_path)).reason == "probe 1"
    assert kvmprobe.kvm_state(binary, CapCache(cache_path)).reason == "probe 1"  # cached on disk
    boot[0] = "boot-b"  # after a reboot the verdict is stale
    assert kvmprobe.kvm_state(binary, CapCache(cache_path)).reason == "probe 2"
    assert kvmprobe.kvm_state(binary, CapCache(cache_path), refresh=True).reason == "probe 3"
    assert len(probes) == 3


def test_kvm_state_without_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CTYS_ACCEL", raising=False)
    state = kvmprobe.kvm_state(None)
    assert not state.usable and "no QEMU binary" in state.reason


# ---- choose_accelerator

USABLE = KvmState(True, "KVM works")
BROKEN = KvmState(False, "KVM internal error in the probe guest")


def test_choose_auto_takes_kvm_when_usable() -> None:
    assert choose_accelerator(Accelerator.AUTO, USABLE)[0] is Accelerator.KVM


def test_choose_auto_falls_back_to_tcg_and_says_why() -> None:
    accel, note = choose_accelerator(Accelerator.AUTO, BROKEN)
    assert accel is Accelerator.TCG
    assert "KVM internal error" in note


def test_choose_explicit_tcg_even_with_kvm() -> None:
    assert choose_accelerator(Accelerator.TCG, USABLE)[0] is Accelerator.TCG


def test_choose_explicit_kvm() -> None:
    assert choose_accelerator(Accelerator.KVM, USABLE)[0] is Accelerator.KVM
    with pytest.raises(VmError, match="KVM requested but not usable: KVM internal error"):
        choose_accelerator(Accelerator.KVM, BROKEN)
