"""#@#CLOUDINIT: the NoCloud seed's files (read or generated) and its cached ``cidata`` ISO."""

from __future__ import annotations

import io
import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctys.argscan import parse_action, scan_argv
from ctys.errors import VmError
from ctys.plugins.base import RunContext
from ctys.plugins.qemu.actions.create import run_create
from ctys.plugins.qemu.boot.cloudinit import CloudInitSeed, seed_for, seed_iso
from ctys.plugins.qemu.requests import parse_create
from ctys.plugins.qemu.vm.runtime import RuntimeDir
from support.launch import conf_vm, launch_argv, option_values

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLE me@host"


def _files(seed: CloudInitSeed | None) -> dict[str, str]:
    assert seed is not None
    return {name: data.decode() for name, data in seed.files}


def test_without_the_key_there_is_no_seed(tmp_path: Path) -> None:
    assert seed_for(conf_vm(tmp_path / "vm1.conf", "#@#SSHKEY = x\n")) is None


def test_files_are_read_relative_to_the_conf(tmp_path: Path) -> None:
    (tmp_path / "ud.yaml").write_text("#cloud-config\nhostname: given\n")
    (tmp_path / "md.yaml").write_text("instance-id: i-1\n")
    (tmp_path / "net.yaml").write_text("version: 2\n")
    vm = conf_vm(tmp_path / "vm1.conf", "#@#CLOUDINIT = ud.yaml%md.yaml%net.yaml\n")
    assert _files(seed_for(vm)) == {
        "user-data": "#cloud-config\nhostname: given\n",
        "meta-data": "instance-id: i-1\n",
        "network-config": "version: 2\n",
    }


def test_auto_generates_hostname_key_and_instance_from_the_conf(tmp_path: Path) -> None:
    (tmp_path / "id.pub").write_text(KEY + "\n")
    conf = "#@#CLOUDINIT = AUTO\n#@#HOSTNAME = web1\n#@#SSHKEY = id.pub\n"
    vm = conf_vm(tmp_path / "vm1.conf", conf, uuid="0f0e0d0c-0b0a-0908-0706-050403020100")
    files = _files(seed_for(vm))
    assert set(files) == {"user-data", "meta-data"}  # network-config: cloud-init's default
    user = files["user-data"].splitlines()
    assert user[0] == "#cloud-config"
    assert 'hostname: "web1"' in user and f'  - "{KEY}"' in user
    assert files["meta-data"] == (
        'instance-id: "0f0e0d0c-0b0a-0908-0706-050403020100"\nlocal-hostname: "web1"\n'
    )


def test_a_missing_file_names_the_key_and_the_path(tmp_path: Path) -> None:
    vm = conf_vm(tmp_path / "vm1.conf", "#@#CLOUDINIT = nothere.yaml\n")
    with pytest.raises(VmError, match=r"#@#CLOUDINIT user-data .*nothere\.yaml: No such file"):
        seed_for(vm)


def test_too_many_fields_and_a_bad_key_file_are_conf_errors(tmp_path: Path) -> None:
    with pytest.raises(VmError, match="4 fields"):
        seed_for(conf_vm(tmp_path / "vm1.conf", "#@#CLOUDINIT = a%b%c%d\n"))
    (tmp_path / "two.pub").write_text(f"{KEY}\n{KEY}\n")
    conf = "#@#CLOUDINIT = AUTO\n#@#SSHKEY = two.pub\n"
    with pytest.raises(VmError, match="not one public ssh key"):
        seed_for(conf_vm(tmp_path / "vm1.conf", conf))


@settings(max_examples=60, deadline=None)
@given(host=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40))
def test_a_generated_host_name_stays_one_yaml_value(host: str) -> None:
    # Written as a JSON scalar: quotes, colons, "#" or newlines cannot add keys.
    vm = conf_vm(Path("/nonexistent/vm1.conf"), "#@#CLOUDINIT = AUTO\n")
    vm = type(vm)(**{**vm.__dict__, "label": host})
    files = _files(seed_for(vm))
    [line] = [ln for ln in files["user-data"].splitlines() if ln.startswith("hostname: ")]
    assert json.loads(line.removeprefix("hostname: ")) == host
    assert files["user-data"].count("\n") == 3


needs_xorriso = pytest.mark.skipif(shutil.which("xorriso") is None, reason="no xorriso")


@needs_xorriso
def test_the_seed_is_a_private_cidata_iso_built_once_per_contents(tmp_path: Path) -> None:
    seed = CloudInitSeed((("user-data", b"#cloud-config\n"), ("meta-data", b"instance-id: a\n")))
    cache = tmp_path / "cache" / "seeds"
    iso = seed_iso(seed, cache)
    assert stat.S_IMODE(iso.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    info = subprocess.run(
        ["xorriso", "-indev", str(iso), "-pvd_info", "-find", "/", "-type", "f"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Volume Id    : cidata" in info.stdout
    assert {"'/user-data'", "'/meta-data'"} <= set(info.stdout.split())
    built = iso.stat().st_mtime_ns
    assert seed_iso(seed, cache) == iso and iso.stat().st_mtime_ns == built  # cached
    other = seed_iso(CloudInitSeed((("user-data", b"x"), ("meta-data", b"y"))), cache)
    assert other != iso
    assert sorted(p.name for p in cache.iterdir() if not p.name.startswith(".")) == sorted(
        [iso.name, other.name]
    )


def test_the_seed_is_the_last_ide_slot_as_a_read_only_cdrom(tmp_path: Path) -> None:
    vm = conf_vm(tmp_path / "vm1.conf", "", hdd=(Path("/v/a.qcow2"),))
    drives = option_values(launch_argv(vm, tmp_path, seed=Path("/c/s,1.iso")), "-drive")
    assert drives[-1] == "file=/c/s,,1.iso,index=3,media=cdrom,readonly=on"
    assert not any("cdrom" in d for d in option_values(launch_argv(vm, tmp_path), "-drive"))


# A stand-in for qemu that notes its argv and exits (CONSOLE:CLI0 runs it in the foreground).
FAKE_QEMU = """#!{python}
import sys
with open({note!r}, "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
"""


@needs_xorriso
def test_each_create_attaches_the_seed_of_the_current_user_data(
    ctys_env: dict[str, str], short_tmp: Path
) -> None:
    note = short_tmp / "note"
    fake = short_tmp / "qemu-system-x86_64"
    fake.write_text(FAKE_QEMU.format(python=sys.executable, note=str(note)))
    fake.chmod(0o755)
    (short_tmp / "vmlinuz").write_bytes(b"")
    conf = Path(ctys_env["CTYS_VMPATH"]) / "ci1.conf"
    conf.write_text(
        "#@#MAGICID-QEMU\n#@#LABEL = ci1\n#@#CLOUDINIT = ud.yaml\n"
        f"KERNEL={short_tmp / 'vmlinuz'}\nQEMUBIN={fake}\n"
    )
    runtime = RuntimeDir(Path(ctys_env["CTYS_RUNTIME_DIR"]))
    seeds = Path(ctys_env["XDG_CACHE_HOME"], "ctys", "seeds")

    def create(user_data: str) -> Path:
        (conf.parent / "ud.yaml").write_text(user_data)
        req = parse_create(parse_action(f"CREATE=F:{conf},CONSOLE:CLI0"))
        ctx = RunContext(scan_argv(["-t", "QEMU", "-a", "CREATE"]), io.StringIO(), io.StringIO())
        run_create(req, ctx, runtime)
        drives = [d for d in note.read_text().splitlines()[-1].split() if "media=cdrom" in d]
        [drive] = drives
        return Path(drive.removeprefix("file=").split(",index=")[0])

    first = create("#cloud-config\nhostname: one\n")
    second = create("#cloud-config\nhostname: two\n")
    assert first != second and first.parent == second.parent == seeds
    assert sorted(p.name for p in seeds.glob("*.iso")) == sorted([first.name, second.name])
    built = second.stat().st_mtime_ns
    assert create("#cloud-config\nhostname: two\n") == second  # unchanged: the cached one
    assert second.stat().st_mtime_ns == built
    out = short_tmp / "user-data"
    subprocess.run(
        ["xorriso", "-indev", str(second), "-osirrox", "on", "-extract", "/user-data", str(out)],
        capture_output=True, check=True,
    )  # fmt: skip
    assert out.read_text() == "#cloud-config\nhostname: two\n"
