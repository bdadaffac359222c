"""ctys-createConfVM with the original's options: -t QEMU, -D/-C, presets from the
original's variables and defaults file, --levo, --no-create-image, and the 01.11/01.07
layouts whose wrapper runs ctys; every file written reads back as the VM asked for."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ctys.address.scan import scan_vms
from ctys.conf.rawconf import ConfMode
from ctys.plugins.qemu.boot.wrapper import is_ctys_wrapper
from ctys.plugins.qemu.confs.mapping import load_vm_config
from ctys.plugins.qemu.confs.reader import QemuConfs
from ctys.plugins.qemu.newconf.cli import run
from ctys.plugins.qemu.newconf.layout import Layout, render_wrapper
from ctys.plugins.qemu.newconf.origopts import ENV_VARIABLES
from ctys.plugins.qemu.vmconfig import Accelerator

pytestmark = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img")


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(args), out, err, environ=env or {})
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_dash_d_names_the_vm_folder_and_its_label(tmp_path: Path) -> None:
    (tmp_path / "lab").mkdir()
    code, out, err = cli("-t", "qemu", "-D", "lab", "--disk-size", "1M")
    assert (code, err) == (0, "")
    assert out == f"{tmp_path / 'lab' / 'lab.conf'}\n"
    assert sorted(p.name for p in (tmp_path / "lab").iterdir()) == ["lab.conf", "lab.qcow2"]


def test_dash_d_missing_needs_dash_c(tmp_path: Path) -> None:
    code, _, err = cli("-t", "QEMU", "-D", "new", "--disk-size", "0")
    assert code == 2 and "-C creates it" in err
    assert not (tmp_path / "new").exists()
    assert cli("-t", "QEMU", "-D", "new", "-C", "--disk-size", "0")[0] == 0
    assert (tmp_path / "new" / "new.conf").is_file()
    code, _, err = cli("-t", "QEMU", "-D", "a/b", "-C", "--disk-size", "0")
    assert code == 2 and "only the last folder" in err


def test_without_dash_d_the_original_writes_into_the_current_folder(tmp_path: Path) -> None:
    code, out, _ = cli("-t", "QEMU", "--label=here", "--disk-size", "0")
    assert code == 0
    assert out == f"{tmp_path / 'here.conf'}\n"


def test_the_original_variables_preset_the_values(tmp_path: Path) -> None:
    env = {"MEMSIZE": "300", "SMP": "2", "ACCELERATOR": "QEMU", "MAC": "52:54:00:aa:bb:cc",
           "DIST": "Busy Box", "DISTREL": "1.36", "ARCH": "x86_64", "VMSTATE": "ACTIVE",
           "KBD_LAYOUT": "de", "DEFAULTCONSOLE": "VNC", "LABEL": "fromenv",
           "HDDBOOTIMAGE_INST_SIZE": "2M"}  # fmt: skip
    code, out, err = cli("-t", "QEMU", "-D", ".", "--label", "p1", env=env)
    assert code == 0, err
    vm = load_vm_config(Path(out.strip()))
    assert (vm.label, vm.memsize_mb, vm.vcpu, vm.accelerator) == ("p1", 300, 2, Accelerator.TCG)
    assert (vm.mac, vm.dist, vm.arch) == ("52:54:00:aa:bb:cc", "Busy_Box", "x86_64")
    text = Path(out.strip()).read_text()
    for line in ("#@#DISTREL = 1.36", "#@#DEFAULTCONSOLE = VNC", "#@#VMSTATE = ACTIVE",
                 "KBD_LAYOUT=de"):  # fmt: skip
        assert f"\n{line}\n" in text
    assert (tmp_path / "p1.qcow2").stat().st_size > 0
    # Options win over presets; without -t no preset applies.
    code, out, _ = cli("-t", "QEMU", "--label", "p2", "--mem", "64", "--disk-size", "0", env=env)
    assert load_vm_config(Path(out.strip())).memsize_mb == 64
    code, out, _ = cli("--dir", str(tmp_path / "d"), "--label", "p3", "--disk-size", "0", env=env)
    assert load_vm_config(Path(out.strip())).memsize_mb == 512


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MEMSIZE": "lots"}, "MEMSIZE='lots'"),
        ({"ACCELERATOR": "PARA"}, "ACCELERATOR='PARA': a QEMU VM takes KVM|QEMU|TCG|AUTO"),
        ({"MAC": "zz"}, "MAC='zz': bad MAC"),
        ({"SMP": "0"}, "SMP='0'"),
    ],
)
def test_a_bad_preset_is_one_usage_error_naming_it(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    code, out, err = cli("-t", "QEMU", "--label", "b", "--disk-size", "0", env=env)
    assert (code, out) == (2, "")
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-t", "XEN"], "makes QEMU VMs only"),
        (["-t", "QEMU", "--auto-all"], "--auto-all needs --label"),
        (["-t", "QEMU", "--levo", "--defaults-file-create", "--label=x"], "cannot be combined"),
        (["-t", "QEMU", "--create-image", "--no-create-image"], "contradict"),
        (["-t", "QEMU", "--defaults-file"], "needs --label"),
        (["-t", "QEMU", "--defaults-file=nope", "--label=x"], "does not exist"),
        (["-D", "x", "--dir", "y"], "give one of them"),
        (["--layout", "02.00"], "unknown layout"),
    ],
)
def test_original_option_misuse_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    code, _, err = cli(*args)
    assert code == 2 and message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_levo_lists_every_variable_and_writes_nothing(tmp_path: Path) -> None:
    code, out, _ = cli("-t", "QEMU", "--levo", env={"MEMSIZE": "128"})
    assert code == 0
    lines = out.splitlines()
    assert [line.split(":", 1)[0].strip() for line in lines] == list(ENV_VARIABLES)
    assert f"{'MEMSIZE':>40}:128" in lines
    assert list(tmp_path.iterdir()) == []


def test_no_create_image_names_the_disk_and_makes_none(tmp_path: Path) -> None:
    code, out, _ = cli("-t", "QEMU", "--label", "n", "--no-create-image", "--disk-size", "4G")
    assert code == 0
    assert "HDDBOOTIMAGE=n.qcow2" in Path(out.strip()).read_text()
    assert not (tmp_path / "n.qcow2").exists()


def test_no_write_conf_writes_nothing(tmp_path: Path) -> None:
    for flag in ("--no-create-conf-data", "--no-write-conf-file", "--no-write-conf-files"):
        assert cli("-t", "QEMU", "--label", "w", flag) == (0, "", "")
    assert list(tmp_path.iterdir()) == []


def test_a_defaults_file_round_trips(tmp_path: Path) -> None:
    env = {"MEMSIZE": "200", "DIST": "debian"}
    code, _, err = cli("-t", "QEMU", "--label=d1", "--disk-size", "0", "--defaults-file-create",
                       env=env)  # fmt: skip
    assert code == 0, err
    defaults = tmp_path / "d1.defaults"
    assert "export MEMSIZE=200\n" in defaults.read_text()
    code, _, err = cli("-t", "QEMU", "--label=d1", "--disk-size", "0", "--defaults-file-create",
                       "--force")  # fmt: skip
    assert code == 1 and "--defaults-file-create-with-force replaces it" in err
    # The file's values win over the environment's, as a sourced file's would.
    code, out, err = cli("-t", "QEMU", "--label=d2", "--disk-size", "0",
                         "--defaults-file=d1.defaults", env={"MEMSIZE": "999"})  # fmt: skip
    assert code == 0, err
    vm = load_vm_config(Path(out.strip()))
    assert (vm.memsize_mb, vm.dist) == (200, "debian")
    code, out, _ = cli("-t", "QEMU", "--label=d3", "--disk-size", "0",
                       "--defaults-file=d1.defaults", "--no-load-defaults-file")  # fmt: skip
    assert load_vm_config(Path(out.strip())).memsize_mb == 512


def test_notes_for_options_that_do_nothing_for_qemu() -> None:
    code, _, err = cli("-t", "QEMU", "--label=e", "--disk-size", "0", "--expert",
                       "--save-para-kernel", "-d", "3", "--auto")  # fmt: skip
    assert code == 0
    assert [line.split(":", 2)[1].strip() for line in err.splitlines()] == ["note"] * 3
    assert cli("-V")[1].startswith("ctys-createConfVM (ctys) ")


@pytest.mark.parametrize(
    ("layout", "conf", "wrapper"), [("01.11", "v.ctys", "v.sh"), ("01.07", "v.conf", "v.ctys")]
)
def test_original_layouts_are_found_as_sh_ctys(
    tmp_path: Path, layout: str, conf: str, wrapper: str
) -> None:
    code, _, err = cli("--dir", str(tmp_path), "--label", "v", "--layout", layout,
                         "--disk-size", "0", "--json")  # fmt: skip
    assert code == 0, err
    folder = tmp_path / "v"
    assert sorted(p.name for p in folder.iterdir()) == sorted([conf, wrapper])
    script = folder / wrapper
    assert os.access(script, os.X_OK) and is_ctys_wrapper(script.read_text())
    found = scan_vms([tmp_path], [QemuConfs()])
    assert [(str(vm.conf_path), vm.label) for vm in found.vms] == [(str(folder / conf), "v")]
    assert load_vm_config(folder / conf).mode is ConfMode.SH_CTYS


def test_the_wrapper_turns_the_wrapper_options_into_one_create(tmp_path: Path) -> None:
    """The written NAME.sh, run by sh with a stand-in ctys that prints its argv."""
    folder = tmp_path / "w"
    folder.mkdir()
    (folder / "w.ctys").write_text("#@#MAGICID-QEMU\n")
    script = folder / "w.sh"
    script.write_text(render_wrapper("w", "w.ctys", Layout.V0111))
    fake = tmp_path / "fakectys"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do echo "[$a]"; done\n')
    fake.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "CTYS": str(fake)}
    done = subprocess.run(
        ["sh", str(script), "--console=VNC", "--vncaccessdisplay=3", "--bootmode=CD%/i.iso",
         "--kernelmode=/k%/i", "-d", "5", "--argsadd=-snapshot -m 64"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "[-t]", "[QEMU]", "[-a]",
        f"[CREATE=P:{folder}/w.ctys,CONSOLE:VNC,BOOTMODE:CD%/i.iso,KERNEL:/k%/i,"
        "ARGSADD:-snapshot%-m%64]",
    ]  # fmt: skip
    check = subprocess.run(["sh", str(script), "--check"], env=env, check=False)
    assert check.returncode == 0
    (folder / "w.ctys").unlink()
    assert subprocess.run(["sh", str(script), "--check"], env=env, check=False).returncode != 0
    bad = subprocess.run(["sh", str(script), "--bogus"], env=env, capture_output=True,
                         text=True, check=False)  # fmt: skip
    assert bad.returncode == 1 and "unknown option: --bogus" in bad.stderr


def test_an_existing_vm_folder_is_built_in_not_beside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """-D into an existing folder (or the current one) never writes into its parent."""
    import tempfile

    used: list[str] = []
    real = tempfile.mkdtemp

    def spy(*args: object, **kwargs: object) -> str:
        used.append(str(kwargs["dir"]))
        return real(*args, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(tempfile, "mkdtemp", spy)
    (tmp_path / "in").mkdir()
    assert cli("-t", "QEMU", "-D", "in", "--disk-size", "0")[0] == 0
    assert cli("-t", "QEMU", "-D", "new", "-C", "--disk-size", "0")[0] == 0
    assert used == [str(tmp_path / "in"), str(tmp_path)]
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["in.conf"]
