"""A VM from conf text and the qemu argv ``build_argv`` makes for it (argv unit tests)."""

from __future__ import annotations

from pathlib import Path

from ctys.conf.parser import parse_conf_text
from ctys.plugins.qemu.boot.argv import LaunchSpec, build_argv
from ctys.plugins.qemu.vm.runtime import VmRuntimeDir
from ctys.plugins.qemu.vmconfig import Accelerator, VmConfig


def conf_vm(conf_path: Path, conf: str, **fields: object) -> VmConfig:
    """VM ``vm1`` whose raw conf is ``conf`` (after the QEMU marker), plus ``fields``."""
    raw = parse_conf_text(f"#@#MAGICID-QEMU\n{conf}", conf_path)
    return VmConfig(conf_path=conf_path, label="vm1", raw=raw, **fields)  # type: ignore[arg-type]


def launch_argv(vm: VmConfig, tmp_path: Path, **spec: object) -> list[str]:
    """``build_argv`` for ``vm`` under TCG, its runtime folder below ``tmp_path``."""
    launch = LaunchSpec(
        vm=vm,
        binary="qemu-system-x86_64",
        accelerator=Accelerator.TCG,
        rundir=VmRuntimeDir(tmp_path / "run" / "vms" / "vm1"),
        **spec,  # type: ignore[arg-type]
    )
    return build_argv(launch)


def option_values(argv: list[str], option: str) -> list[str]:
    """Every value given to ``option`` (``-drive``, ``-netdev``, ...), in order."""
    return [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == option]
