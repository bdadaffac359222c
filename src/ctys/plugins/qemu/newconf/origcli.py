"""The original ctys-createConfVM's options on ctys's ``ctys-createConfVM`` (docs/cli.md,
"The wrapper script and ctys-createConfVM", lists each with its status).

``-t QEMU`` selects the original's way of working: the VM folder is ``-D DIR`` (its last
name the default label) or else the current folder, and the original's variables preset
the values (``ctys.plugins.qemu.newconf.origopts``). Without ``-t`` nothing here applies.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ctys.errors import UsageError
from ctys.plugins.qemu.newconf.layout import Layout
from ctys.plugins.qemu.newconf.origopts import Presets, defaults_file_path, read_presets

# Options of the original that do nothing for a QEMU VM made by ctys: each gets one note.
_NOTED = {
    "expert": "--expert: ctys asks no questions; the values come from options and presets",
    "save_para_kernel": "--save-para-kernel: only for Xen PARA guests; nothing to save for QEMU",
    "no_save_para_kernel": "--no-save-para-kernel: only for Xen PARA guests; ignored for QEMU",
    "debug": "-d: ctys-createConfVM has no debug output; ignored",
    "help_ex": "-H: the original's help browser is not part of ctys; see --help",
}


def add_original_options(parser: argparse.ArgumentParser) -> None:
    """The original's options (today's ``--label``/``-l`` already take ``--label=L``)."""
    add = parser.add_argument
    add("-t", dest="session_type", metavar="TYPE", help="session type: QEMU (the original's mode)")
    add("-D", dest="vm_dir", type=Path, metavar="DIR", help="the VM folder (its name: the label)")
    add("-C", dest="create_dir", action="store_true", help="create the -D folder when missing")
    add("--layout", default="ctys", help="ctys (NAME.conf) | 01.11 (NAME.ctys + NAME.sh) | 01.07")
    add("--auto", action="store_true", help="accepted: ctys never asks")
    add("--auto-all", action="store_true", help="accepted: ctys never asks (needs --label)")
    add("--expert", action="store_true", help=argparse.SUPPRESS)
    add("--create-image", action="store_true", help="make the disk image (the default)")
    add("--no-create-image", action="store_true", help="name the disk in the conf, make none")
    add("--save-para-kernel", action="store_true", help=argparse.SUPPRESS)
    add("--no-save-para-kernel", action="store_true", help=argparse.SUPPRESS)
    add("--defaults-file", nargs="?", const="", metavar="FILE", help="read the presets from FILE")
    add("--defaults-file-create", action="store_true", help="write the defaults file")
    add("--defaults-file-create-with-force", action="store_true", help="... replacing it")
    add("--no-load-defaults-file", action="store_true", help="do not read the defaults file")
    add("--no-create-conf-data", "--no-write-conf-file", "--no-write-conf-files",
        dest="no_write", action="store_true", help="write no conf and no disk")  # fmt: skip
    add("--list-env-var-options", "--levo", dest="levo", action="store_true",
        help="list the preset variables and their values, write nothing")  # fmt: skip
    add("-d", dest="debug", metavar="LEVEL", help=argparse.SUPPRESS)
    add("-H", dest="help_ex", metavar="OPTS", help=argparse.SUPPRESS)
    add("-V", dest="version", action="store_true", help="print the version")
    add("-X", dest="terse", action="store_true", help="terse: the conf path only (the default)")


@dataclass(frozen=True)
class OriginalPlan:
    """What the original's options ask for, beyond today's ``NewVmRequest`` fields."""

    presets: Presets = field(default_factory=lambda: Presets({}))
    directory: Path | None = None
    label: str | None = None
    layout: Layout = Layout.CTYS
    make_image: bool = True
    write: bool = True
    defaults_out: Path | None = None
    replace_defaults: bool = False
    notes: tuple[str, ...] = ()
    levo: bool = False  # --list-env-var-options: list the presets, write nothing
    version: bool = False  # -V


def _layout(text: str) -> Layout:
    try:
        return Layout(text)
    except ValueError:
        valid = "|".join(layout.value for layout in Layout)
        raise UsageError(f"--layout: unknown layout {text!r} ({valid})") from None


def _folder(opts: argparse.Namespace, cwd: Path) -> Path | None:
    """The VM folder of the original's mode: ``-D DIR`` (made by ``-C``), else ``cwd``."""
    if opts.vm_dir is None:
        return cwd if opts.session_type is not None else None
    folder: Path = (cwd / opts.vm_dir.expanduser()).absolute()
    if not folder.is_dir():
        if folder.exists():
            raise UsageError(f"-D {opts.vm_dir}: not a folder")
        if not opts.create_dir:
            raise UsageError(f"-D {opts.vm_dir}: the folder does not exist (-C creates it)")
        if not folder.parent.is_dir():
            raise UsageError(f"-D {opts.vm_dir}: -C creates only the last folder of the path")
    return folder


def original_plan(opts: argparse.Namespace, environ: Mapping[str, str], cwd: Path) -> OriginalPlan:
    """Check the original's options and gather what they ask for."""
    stype = opts.session_type
    if stype is not None and stype.upper() != "QEMU":
        raise UsageError(f"-t {stype}: this ctys-createConfVM makes QEMU VMs only (-t QEMU)")
    if opts.vm_dir is not None and opts.dir is not None:
        raise UsageError("-D names the VM folder, --dir its parent: give one of them")
    if opts.levo and (opts.defaults_file_create or opts.defaults_file_create_with_force):
        raise UsageError("--list-env-var-options cannot be combined with --defaults-file-create")
    if opts.create_image and opts.no_create_image:
        raise UsageError("--create-image and --no-create-image contradict each other")
    folder = _folder(opts, cwd)
    label = opts.label or (folder.name if opts.vm_dir is not None and folder else None)
    if opts.auto_all and not label:
        raise UsageError("--auto-all needs --label (the label is never taken from the environment)")
    creating = opts.defaults_file_create or opts.defaults_file_create_with_force
    defaults = None
    if opts.defaults_file is not None or creating:
        defaults = defaults_file_path(opts.defaults_file or "", label, folder or cwd)
    read = defaults if defaults and not opts.no_load_defaults_file else None
    if read is not None and creating and not read.exists():
        read = None  # being written by this run
    presets = read_presets(environ if stype else {}, read)
    notes = tuple(note for name, note in _NOTED.items() if getattr(opts, name))
    return OriginalPlan(
        presets=presets,
        directory=folder,
        label=label,
        layout=_layout(opts.layout),
        make_image=not opts.no_create_image,
        write=not opts.no_write,
        defaults_out=defaults if creating else None,
        replace_defaults=bool(opts.defaults_file_create_with_force),
        notes=notes,
        levo=bool(opts.levo),
        version=bool(opts.version),
    )
