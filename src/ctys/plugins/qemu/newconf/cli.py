"""``ctys-createConfVM``: make a new VM folder (conf file + disk image) from flags.

    ctys-createConfVM [--label L] [--dir BASE] [--mem MB] [--vcpu N] [--disk-size 8G]
                      [--disk-format qcow2] [--iso PATH] [--kernel K --initrd I --append A]
                      [--accel AUTO|KVM|TCG] [--os OS --dist DIST] [--mac MAC] [--uuid UUID]
                      [--ip ADDR] [--force] [--json] [--layout ctys|01.11|01.07]
    ctys-createConfVM -t QEMU [--label=L] [-D DIR [-C]] [--auto|--auto-all] [--levo]
                      [--defaults-file[=FILE]] [--no-create-image] ... (the original's options,
                      ``ctys.plugins.qemu.newconf.origcli``)

Prints the path of the new conf file (or a JSON object). Exit status 0 on success, 2 for
bad usage, 1 for any other error; every error is one line ``ctys-createConfVM: ...``.
docs/create-vm.md describes it.

The QEMU conf generator's command line, so it lives in the plugin (the console script
``ctys-createConfVM`` names this module; nothing imports it): imports the core and
``newconf``/``boot`` of this plugin, never ``ctys.cli``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO, TypeVar

from ctys import __version__
from ctys.errors import CtysError, UsageError
from ctys.plugins.qemu.boot.instmode import parse_size
from ctys.plugins.qemu.newconf.argtypes import OneLineParser, checked, run_reporting
from ctys.plugins.qemu.newconf.newvm import (
    MAX_VCPU,
    DiskFormat,
    NewVm,
    NewVmRequest,
    check_ip,
    check_label,
    check_mac,
    check_uuid,
    create_vm,
    default_base,
)
from ctys.plugins.qemu.newconf.origcli import OriginalPlan, add_original_options, original_plan
from ctys.plugins.qemu.newconf.origopts import Presets, list_presets, render_defaults
from ctys.plugins.qemu.vmconfig import Accelerator
from ctys.runguard import run_guarded
from ctys.safestream import safe_stream, write_text

PROG = "ctys-createConfVM"
_E = TypeVar("_E", Accelerator, DiskFormat)
_T = TypeVar("_T")
_MEMSIZE = re.compile(r"(\d+)\s*([MG])?(?:i?B)?", re.IGNORECASE)


def _memsize(text: str) -> int:
    match = _MEMSIZE.fullmatch(text.strip())
    if match is None or not text.isascii():
        raise argparse.ArgumentTypeError(f"not a memory size in MB (512, 2G): {text!r}")
    factor = 1024 if (match.group(2) or "M").upper() == "G" else 1
    size = int(match.group(1)) * factor
    if size < 1:
        raise argparse.ArgumentTypeError(f"memory size must be positive: {text!r}")
    return size


def _vcpu(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_VCPU:
        raise argparse.ArgumentTypeError(f"not a CPU count 1..{MAX_VCPU}: {text!r}")
    return int(text)


def _disk_size(text: str) -> str:
    if text.strip() == "0":
        return "0"
    try:
        parse_size(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text.strip()


def _parser() -> OneLineParser:
    parser = OneLineParser(
        prog=PROG,
        allow_abbrev=False,
        description="Create a new QEMU VM folder: BASE/LABEL/LABEL.conf and a disk image.",
    )
    add = parser.add_argument
    add(
        "--label",
        "-l",
        type=checked(check_label),
        help="VM label, also folder/file name (default: first free vmN)",
    )
    add("--dir", type=Path, help="base folder (default: first of $CTYS_VMPATH, else ~/qemu)")
    add("--mem", type=_memsize, help="memory in MB, or 2G (default 512)")
    add("--vcpu", type=_vcpu, help="virtual CPUs (default 1)")
    add("--disk-size", type=_disk_size, help="disk size, 0 = no disk (default 8G)")
    add("--disk-format", default="qcow2", help="qcow2|raw|vmdk|vdi|vhdx (default qcow2)")
    add("--iso", type=Path, help="installer ISO (the conf's CDROM)")
    add("--kernel", type=Path, help="kernel for direct boot")
    add("--initrd", type=Path, help="initrd for --kernel")
    add("--append", help="kernel command line for --kernel")
    add("--accel", help="AUTO|KVM|TCG (default AUTO)")
    add("--os", help="guest OS (#@#OS)")
    add("--dist", help="guest distribution (#@#DIST)")
    add("--mac", type=checked(check_mac), help="MAC address (default: random 52:54:00:xx:xx:xx)")
    add("--uuid", type=checked(check_uuid), help="UUID (default: a fresh random one)")
    add("--ip", type=checked(check_ip), help="guest IP address (#@#IP)")
    add("--force", action="store_true", help="replace the conf and disk of an existing VM")
    add("--json", action="store_true", help="print the result as JSON")
    add_original_options(parser)
    return parser


def _enum_value(enum: type[_E], text: str, option: str) -> _E:
    try:
        return enum(text.lower() if enum is DiskFormat else text.upper())
    except ValueError:
        valid = "|".join(str(member.value) for member in enum)
        raise UsageError(f"{option}: unknown value {text!r} ({valid})") from None


def _preset(presets: Presets, name: str, convert: Callable[[str], _T]) -> _T | None:
    """A preset variable's value through ``convert``; a bad one is bad usage naming it."""
    value = presets.get(name)
    if value is None:
        return None
    try:
        return convert(value)
    except (argparse.ArgumentTypeError, CtysError) as err:
        raise UsageError(f"{name}={value!r}: {err}") from None


def _accel(text: str) -> str:
    """The original's ACCELERATOR: KVM, or QEMU (= TCG here); ctys's AUTO/TCG too."""
    upper = text.upper()
    if upper == "QEMU":
        return "TCG"
    if upper not in ("KVM", "TCG", "AUTO"):
        raise CtysError("a QEMU VM takes KVM|QEMU|TCG|AUTO")
    return upper


def request_from_args(
    argv: Sequence[str], environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> tuple[NewVmRequest, bool, OriginalPlan]:
    """Command-line words (and, with ``-t QEMU``, the original's variables in ``environ``)
    → the ``NewVmRequest``, whether to print JSON, and what the original's options ask."""
    opts = _parser().parse_args(list(argv))
    plan = original_plan(opts, os.environ if environ is None else environ, cwd or Path.cwd())
    pre = plan.presets
    size_text: str = opts.disk_size or _preset(pre, "HDDBOOTIMAGE_INST_SIZE", _disk_size) or "8G"
    if plan.directory is not None:
        base = plan.directory.parent
    else:
        base = (opts.dir or default_base()).expanduser().absolute()
    label = plan.label or free_label(base if plan.directory is None else plan.directory)
    accel = opts.accel or _preset(pre, "ACCELERATOR", _accel) or "AUTO"
    request = NewVmRequest(
        base=base,
        label=check_label(label),
        memsize_mb=opts.mem or _preset(pre, "MEMSIZE", _memsize) or 512,
        vcpu=opts.vcpu or _preset(pre, "SMP", _vcpu) or 1,
        disk_size=0 if size_text == "0" else parse_size(size_text),
        disk_size_text=size_text,
        disk_format=_enum_value(DiskFormat, opts.disk_format, "--disk-format"),
        accelerator=_enum_value(Accelerator, accel, "--accel"),
        iso=opts.iso,
        kernel=opts.kernel,
        initrd=opts.initrd,
        append=opts.append,
        os=opts.os or pre.get("OS"),
        dist=opts.dist or pre.get("DIST"),
        mac=opts.mac or _preset(pre, "MAC", check_mac),
        uuid=opts.uuid or _preset(pre, "UUID", check_uuid),
        ip=opts.ip or _preset(pre, "IP", check_ip),
        force=opts.force,
        layout=plan.layout,
        directory=plan.directory if opts.vm_dir is not None or opts.session_type else None,
        make_image=plan.make_image,
        extra_keys=pre.extra_keys,
        extra_vars=pre.extra_vars,
    )
    return request, bool(opts.json), plan


def free_label(base: Path) -> str:
    """The first ``vmN`` (N = 1, 2, ...) with no folder in ``base``."""
    number = 1
    while (base / f"vm{number}").exists():
        number += 1
    return f"vm{number}"


def _report(vm: NewVm, as_json: bool, out: TextIO) -> None:
    if not as_json:
        print(vm.conf, file=out)
        return
    data = {
        "label": vm.label,
        "directory": str(vm.directory),
        "conf": str(vm.conf),
        "disk": None if vm.disk is None else str(vm.disk),
        "uuid": vm.uuid,
        "mac": vm.mac,
        "wrapper": None if vm.wrapper is None else str(vm.wrapper),
    }
    write_text(out, json.dumps(data, indent=1))


def _write_defaults(plan: OriginalPlan, vm: NewVm | None, req: NewVmRequest) -> None:
    """``--defaults-file-create``: the presets and the new VM's values, for the next run."""
    path = plan.defaults_out
    if path is None:
        return
    if path.exists() and not plan.replace_defaults:
        raise CtysError(
            f"defaults file {path} exists (--defaults-file-create-with-force replaces it)"
        )
    values = dict(plan.presets.values)
    values["MEMSIZE"], values["SMP"] = str(req.memsize_mb), str(req.vcpu)
    values["ACCELERATOR"] = req.accelerator.value
    values["HDDBOOTIMAGE_INST_SIZE"] = req.disk_size_text
    if vm is not None:
        values.update(UUID=vm.uuid, MAC=vm.mac)
    values.pop("C_SESSIONTYPE", None)
    try:
        path.write_text(render_defaults(values))
    except OSError as err:
        raise CtysError(f"cannot write {path}: {err.strerror or err}") from err


def run(
    argv: Sequence[str], out: TextIO, err: TextIO, environ: Mapping[str, str] | None = None
) -> int:
    """The command with its streams given (for tests); returns the exit status."""

    def body() -> int:
        request, as_json, plan = request_from_args(argv, environ)
        for note in plan.notes:
            print(f"{PROG}: note: {note}", file=err)
        if plan.version:
            print(f"{PROG} (ctys) {__version__}", file=out)
            return 0
        if plan.levo:
            list_presets(plan.presets, out)
            return 0
        vm = create_vm(request) if plan.write else None
        _write_defaults(plan, vm, request)
        if vm is not None:
            _report(vm, as_json, out)
        return 0

    return run_reporting(PROG, err, body)


def main() -> int:
    """Console script entry point (broken stdout/stderr handled by ``run_guarded``; every
    line written through a ``SafeWriter``)."""
    return run_guarded(
        PROG,
        lambda: run(sys.argv[1:], safe_stream(sys.stdout), safe_stream(sys.stderr)),
        lambda: 0,
    )


if __name__ == "__main__":
    sys.exit(main())
