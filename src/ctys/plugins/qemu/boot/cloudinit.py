"""cloud-init's NoCloud seed for a VM: ``#@#CLOUDINIT = user-data[%meta-data[%network-config]]``.

Each field names a file (relative to the conf's folder, ``~`` for the home). A field left
empty, or ``AUTO``, is generated: user-data from ``#@#HOSTNAME`` and ``#@#SSHKEY`` (a public
key file, or the key's text), meta-data from the VM's UUID and host name. The seed is the
``cidata`` ISO NoCloud looks for, built with ``xorriso`` and cached by the hash of its
contents, so an unchanged seed is built once.

Generated YAML is written as JSON scalars (JSON is YAML): a host name or key with quotes,
colons or newlines stays one value and cannot add keys.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ctys.errors import VmError
from ctys.filelock import exclusive_lock
from ctys.pathutil import user_cache_dir
from ctys.plugins.qemu.boot.confkeys import ConfValue, conf_path, conf_value
from ctys.plugins.qemu.vmconfig import VmConfig
from ctys.privfile import create_private_dir

#: The volume label NoCloud searches for, and the names of the files it reads.
SEED_LABEL = "cidata"
_FILES = ("user-data", "meta-data", "network-config")
_AUTO = ("", "AUTO")
#: A seed file larger than this is a wrong path, not cloud-init data.
_MAX_FILE = 1 << 20


@dataclass(frozen=True)
class CloudInitSeed:
    """The files of one seed: name (``user-data`` …) → contents."""

    files: tuple[tuple[str, bytes], ...]

    @property
    def digest(self) -> str:
        """The hash the built ISO is cached under (names and contents)."""
        sha = hashlib.sha256()
        for name, data in self.files:
            sha.update(f"{name}\0{len(data)}\0".encode())
            sha.update(data)
        return sha.hexdigest()


def seed_for(vm: VmConfig) -> CloudInitSeed | None:
    """The conf's seed, or None when it has no ``#@#CLOUDINIT``. ``VmError`` names the
    key and the file for a field that cannot be read."""
    value = conf_value(vm, "CLOUDINIT")
    if value is None:
        return None
    fields = value.text.split("%")
    if len(fields) > len(_FILES):
        raise VmError(
            f"{vm.conf_path}: {value.name} has {len(fields)} fields;"
            " at most user-data%meta-data%network-config"
        )
    fields += [""] * (2 - len(fields))  # user-data and meta-data are always there
    files: list[tuple[str, bytes]] = []
    for name, field in zip(_FILES, fields, strict=False):
        if field.strip().upper() in _AUTO:
            if name == "network-config":
                continue  # cloud-init's own default (DHCP on the first NIC)
            files.append((name, _generated(vm, name)))
        else:
            files.append((name, _read_field(vm, value, name, field.strip())))
    return CloudInitSeed(tuple(files))


def _read_field(vm: VmConfig, value: ConfValue, name: str, field: str) -> bytes:
    path = conf_path(vm, field)
    try:
        if path.stat().st_size > _MAX_FILE:
            raise VmError(f"{vm.conf_path}: {value.name} {name} {path} is larger than 1 MiB")
        return path.read_bytes()
    except OSError as err:
        raise VmError(f"{vm.conf_path}: {value.name} {name} {path}: {err.strerror or err}") from err


def _generated(vm: VmConfig, name: str) -> bytes:
    host = _host_name(vm)
    if name == "meta-data":
        instance = vm.uuid or vm.label
        text = f"instance-id: {json.dumps(instance)}\nlocal-hostname: {json.dumps(host)}\n"
        return text.encode()
    lines = ["#cloud-config", f"hostname: {json.dumps(host)}", "manage_etc_hosts: true"]
    key = _ssh_key(vm)
    if key:
        lines += ["ssh_authorized_keys:", f"  - {json.dumps(key)}"]
    return ("\n".join(lines) + "\n").encode()


def _host_name(vm: VmConfig) -> str:
    value = conf_value(vm, "HOSTNAME")
    return value.text if value else vm.label


def _ssh_key(vm: VmConfig) -> str:
    """``#@#SSHKEY``: the text of a public key, or a file holding one."""
    value = conf_value(vm, "SSHKEY")
    if value is None:
        return ""
    if value.text.startswith(("ssh-", "ecdsa-", "sk-")):
        return value.text
    path = conf_path(vm, value.text)
    try:
        text = path.read_text(encoding="utf-8", errors="strict").strip()
    except (OSError, UnicodeError) as err:
        raise VmError(f"{vm.conf_path}: {value.name} {path}: {err}") from err
    if "\n" in text or not text.startswith(("ssh-", "ecdsa-", "sk-")):
        raise VmError(f"{vm.conf_path}: {value.name} {path} is not one public ssh key")
    return text


def seed_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ctys/seeds`` (default ``~/.cache/ctys/seeds``)."""
    return user_cache_dir() / "seeds"


def seed_path(seed: CloudInitSeed, cache: Path | None = None) -> Path:
    """Where the ISO of ``seed`` is cached (built or not)."""
    return (cache or seed_cache_dir()) / f"{seed.digest}.iso"


def seed_iso(seed: CloudInitSeed, cache: Path | None = None) -> Path:
    """The ``cidata`` ISO of ``seed`` (0600, in a 0700 cache), built once per contents
    under a lock; a half-built ISO is never left under the final name."""
    cache = cache or seed_cache_dir()
    try:
        create_private_dir(cache.parent)
        create_private_dir(cache)
    except OSError as err:
        raise VmError(f"cannot create the seed cache {cache}: {err.strerror or err}") from err
    iso = seed_path(seed, cache)
    if iso.is_file():
        return iso
    with exclusive_lock(cache / ".lock"):
        if not iso.is_file():
            _build(seed, iso)
    return iso


def _build(seed: CloudInitSeed, iso: Path) -> None:
    xorriso = shutil.which("xorriso")
    if xorriso is None:
        raise VmError("#@#CLOUDINIT needs xorriso to build the seed (apt-get install xorriso)")
    import tempfile  # only a seed build pays for it, not every CREATE

    with tempfile.TemporaryDirectory(dir=iso.parent, prefix=".seed-") as tmp:
        files = Path(tmp, "files")
        files.mkdir()
        for name, data in seed.files:
            (files / name).write_bytes(data)
        out = Path(tmp, "seed.iso")
        argv = [xorriso, "-as", "mkisofs", "-quiet", "-output", str(out)]
        argv += ["-volid", SEED_LABEL, "-joliet", "-rock", str(files)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not out.is_file():
            why = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise VmError(f"building the cloud-init seed failed: {why}")
        out.chmod(0o600)
        out.replace(iso)
