"""``ctys-cloneVM``: copy a QEMU VM into a new folder with a new label, UUID and MACs.

    ctys-cloneVM [-t QEMU] (SOURCE | --label-old=OLD) --label=NEW [--directory=DIR]
                 [--linked | --full] [--snapshot=NAME] [--uuid=UUID] [--mac=MAC]
                 [--inventory=PATH | --no-inventory] [--json]

SOURCE is the source VM's conf file or folder; ``--label-old`` finds it by label under
``$CTYS_VMPATH`` (else ``~/qemu``). Prints the new conf's path (or JSON). Exit status 0 on
success, 2 for bad usage, 1 for any other error; every error is one line
``ctys-cloneVM: ...``. docs/cloneVM.md describes it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from ctys import __version__
from ctys.errors import CtysError, UsageError
from ctys.inventory.store import default_inventory_path
from ctys.plugins.qemu.clone.clonevm import (
    ClonedVm,
    CloneMode,
    CloneRequest,
    clone_vm,
    label_in_inventory,
)
from ctys.plugins.qemu.confs.reader import qemu_base_paths, scan_qemu_confs
from ctys.plugins.qemu.newconf.argtypes import OneLineParser, checked, run_reporting
from ctys.plugins.qemu.newconf.newvm import check_label, check_mac, check_uuid
from ctys.runguard import run_guarded
from ctys.safestream import safe_stream, write_text

PROG = "ctys-cloneVM"


def _parser() -> OneLineParser:
    parser = OneLineParser(
        prog=PROG,
        allow_abbrev=False,
        description="Clone a QEMU VM: a new folder with a new label, UUID and MACs.",
    )
    add = parser.add_argument
    add("source", nargs="?", type=Path, help="the source VM's conf file or folder")
    add("--label-old", type=checked(check_label), help="the source VM's label (instead of SOURCE)")
    add("--label", "-l", type=checked(check_label), help="the clone's label")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--dir",
        type=Path,
        help="the clone's folder (default: beside the source's folder, named after --label)",
    )
    where.add_argument(
        "--directory", type=Path, help="the original's option: the clone goes into DIRECTORY/LABEL"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--linked", action="store_true", help="qcow2 overlays on the source disks")
    mode.add_argument("--full", action="store_true", help="independent sparse copies (default)")
    add("--snapshot", metavar="NAME", help="copy this internal snapshot (a running VM too)")
    add("--uuid", type=checked(check_uuid), help="the clone's UUID (default: a fresh one)")
    add("--mac", type=checked(check_mac), help="the first NIC's MAC (default: a fresh one)")
    add("--inventory", type=Path, help="the inventory to add the clone to")
    add("--no-inventory", action="store_true", help="leave the inventory alone")
    add("--json", action="store_true", help="print the result as JSON")
    add("-t", dest="session_type", metavar="QEMU", help="session type (QEMU only)")
    add("-V", dest="version", action="store_true", help="print the version")
    add("--create-image", action="store_true", help="copy the disks (the default)")
    add("--save-para-kernel", "--no-save-para-kernel", action="store_true", help=argparse.SUPPRESS)
    for name in _REFUSED:
        add(name, nargs=0 if name in ("-f", "--no-create-image") else None, action=_Refused)
    return parser


# The original's options ctys-cloneVM refuses, and why (docs/clone-vm.md).
_REFUSED = {
    "-f": "never replaces an existing folder: remove it first",
    "--no-create-image": "a clone without its own disks would share the source's",
    "--ip": "the clone's IP is the guest's business (edit #@#IP0 after cloning)",
    "--tcp": "the clone's TCP name is the guest's business (edit #@#IP0 after cloning)",
    "--vm-state": "the VM state is kept from the source (edit #@#VMSTATE after cloning)",
    "--configuration-file": "ctys-cloneVM takes no defaults file",
}


class _Refused(argparse.Action):
    """An option of the original that ctys-cloneVM refuses: one line saying why."""

    def __call__(
        self, parser: object, namespace: object, values: object, option: object = None
    ) -> None:
        raise UsageError(f"{self.option_strings[0]}: {_REFUSED[self.option_strings[0]]}")


def _conf_of(path: Path) -> Path:
    """A VM folder's conf (``NAME.conf``, else the 01.11 ``NAME.ctys``), or the file."""
    if not path.is_dir():
        if not path.exists():
            raise CtysError(f"cannot read {path}: no such file or folder")
        return path
    for suffix in (".conf", ".ctys"):
        conf = path / f"{path.name}{suffix}"
        if conf.is_file():
            return conf
    confs = sorted(path.glob("*.conf")) or sorted(path.glob("*.ctys"))
    if len(confs) != 1:
        raise CtysError(f"no single VM conf in folder {path}: name the conf file")
    return confs[0]


def _by_label(label: str) -> Path:
    """The original's ``--label-old``: ``OLD.conf``/``OLD.ctys`` in the current folder
    (where the original runs), else the one VM of this label under the VM path."""
    for suffix in (".conf", ".ctys"):
        here = Path.cwd() / f"{label}{suffix}"
        if here.is_file():
            return here
    found = [vm.conf_path for vm in scan_qemu_confs(qemu_base_paths()).vms if vm.label == label]
    if len(found) != 1:
        what = "no VM" if not found else f"{len(found)} VMs"
        raise CtysError(f"--label-old={label}: {what} with this label under the VM path")
    return found[0]


def request_from_args(argv: Sequence[str]) -> tuple[CloneRequest, bool, bool]:
    """Command-line words → the ``CloneRequest``, whether to print JSON, whether ``-V``."""
    opts = _parser().parse_args(list(argv))
    if opts.session_type is not None and opts.session_type.upper() != "QEMU":
        raise UsageError(f"-t {opts.session_type}: ctys-cloneVM clones QEMU VMs only")
    if opts.version:
        return CloneRequest(Path(), "", Path()), False, True
    if opts.label is None:
        raise UsageError("--label=NEW is required: the clone's label")
    if (opts.source is None) == (opts.label_old is None):
        raise UsageError("name the source VM: a conf file/folder or --label-old=LABEL")
    if opts.snapshot is not None and opts.linked:
        raise UsageError("--snapshot copies the snapshot: it needs --full, not --linked")
    if opts.no_inventory and opts.inventory is not None:
        raise UsageError("--inventory and --no-inventory exclude each other")
    source = _conf_of(opts.source) if opts.source is not None else _by_label(opts.label_old)
    if opts.directory is not None:
        directory = opts.directory / opts.label
    else:
        directory = opts.dir or source.absolute().parent.parent / opts.label
    inventory = None if opts.no_inventory else (opts.inventory or default_inventory_path())
    request = CloneRequest(
        source=source,
        label=opts.label,
        directory=directory.expanduser(),
        mode=CloneMode.LINKED if opts.linked else CloneMode.FULL,
        snapshot=opts.snapshot,
        uuid=opts.uuid,
        mac=opts.mac,
        inventory=inventory.expanduser() if inventory is not None else None,
    )
    return request, bool(opts.json), bool(opts.version)


def _report(vm: ClonedVm, as_json: bool, out: TextIO) -> None:
    if not as_json:
        print(vm.conf, file=out)
        return
    data = {
        "label": vm.label,
        "directory": str(vm.directory),
        "conf": str(vm.conf),
        "uuid": vm.uuid,
        "macs": vm.macs,
        "disks": [str(d) for d in vm.disks],
        "backing": [str(b) for b in vm.backing],
    }
    write_text(out, json.dumps(data, indent=1))


def run(argv: Sequence[str], out: TextIO, err: TextIO) -> int:
    """The command with its streams given (for tests); returns the exit status."""

    def body() -> int:
        request, as_json, version = request_from_args(argv)
        if version:
            print(f"{PROG} (ctys) {__version__}", file=out)
            return 0
        if request.inventory is not None and label_in_inventory(request.inventory, request.label):
            raise CtysError(f"label {request.label} is in the inventory already")
        _report(clone_vm(request), as_json, out)
        return 0

    return run_reporting(PROG, err, body)


def main() -> int:
    """Console script entry point."""
    return run_guarded(
        PROG,
        lambda: run(sys.argv[1:], safe_stream(sys.stdout), safe_stream(sys.stderr)),
        lambda: 0,
    )


if __name__ == "__main__":
    sys.exit(main())
