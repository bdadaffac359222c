"""A full or read-only filesystem under ctys's files: one line, non-zero exit, nothing
half-written (issue 9, points 15 and 16). A tiny tmpfs is mounted for real when we may
(root); a fake ``ENOSPC`` writer covers the same code where we may not."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
from tmpfs import remount_readonly

from ctys.cli.main import main
from ctys.plugins.qemu.newconf import cli as createconf
from ctys.plugins.qemu.vm.runtime import RuntimeRecord, VmRuntimeDir

CONF = """\
#@#MAGICID-QEMU
#@#LABEL = {label}
#@#ACCELERATOR = TCG
KERNEL={kernel}
"""


def one_line(err: str, prog: str = "ctys") -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prog}: ")
    assert "Traceback" not in err
    return lines[0]


# --- the runtime dir on a full filesystem -----------------------------------------------


def test_create_with_a_full_runtime_dir_is_one_line_and_leaves_nothing(
    capsys: pytest.CaptureFixture[str],
    ctys_env: dict[str, str],
    full_fs: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vmdir = Path(ctys_env["CTYS_VMPATH"])
    (vmdir / "vm").mkdir()
    (vmdir / "vm" / "vmlinuz").write_bytes(b"not really a kernel")
    (vmdir / "vm" / "vm.conf").write_text(CONF.format(label="vm", kernel="vmlinuz"))
    runtime = full_fs / "rt"
    monkeypatch.setenv("CTYS_RUNTIME_DIR", str(runtime))
    code = main(["-t", "QEMU", "-a", "CREATE=l:vm", "-b", "1"])
    line = one_line(capsys.readouterr().err)
    assert code == 1
    assert "No space left on device" in line and str(runtime) in line
    assert not list((runtime / "vms").glob("*")), "a runtime folder was left behind"
    assert not [p for p in runtime.rglob("*.tmp")]


def test_write_record_fails_as_one_ctys_error_and_keeps_the_old_record(tmp_path: Path) -> None:
    from ctys.errors import CtysError

    vmdir = VmRuntimeDir(tmp_path)
    vmdir.write_record(RuntimeRecord(vmid="v", label="old", conf="/x.conf"))

    class Full:
        def write(self, _text: str) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    def fake_fdopen(fd: int, *_args: object, **_kwargs: object) -> object:
        os.close(fd)
        import contextlib

        return contextlib.nullcontext(Full())

    # The writer (privfile -> atomicfile) opens the temp file with os.fdopen.
    real = os.fdopen
    os.fdopen = fake_fdopen  # type: ignore[assignment]
    try:
        with pytest.raises(CtysError, match="No space left on device"):
            vmdir.write_record(RuntimeRecord(vmid="v", label="new", conf="/x.conf"))
    finally:
        os.fdopen = real
    record = vmdir.read_record()
    assert record is not None and record.label == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


# --- ctys-createConfVM ------------------------------------------------------------------


def test_create_conf_with_a_300_character_label_is_one_line_and_makes_no_folder(
    capsys: pytest.CaptureFixture[str], short_tmp: Path
) -> None:
    base = short_tmp / "new" / "base"
    code = createconf.run(["--label", "a" * 300, "--dir", str(base)], *_streams())
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "label" in one_line(err, createconf.PROG) and "long" in err
    assert not (short_tmp / "new").exists()


def test_create_conf_into_a_read_only_dir_is_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], readonly_fs: Path
) -> None:
    remount_readonly(readonly_fs)
    code = createconf.run(["--label", "x", "--dir", str(readonly_fs / "vms")], *_streams())
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "Read-only file system" in one_line(err, createconf.PROG)
    assert list(readonly_fs.iterdir()) == []


def test_create_conf_on_a_full_disk_leaves_no_folder(
    capsys: pytest.CaptureFixture[str], full_fs: Path
) -> None:
    base = full_fs / "deep" / "vms"
    code = createconf.run(["--label", "x", "--dir", str(base), "--disk-size", "0"], *_streams())
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "No space left on device" in one_line(err, createconf.PROG)
    assert sorted(p.name for p in full_fs.iterdir()) == ["filler"]


def _streams() -> tuple[object, object]:
    import sys

    return sys.stdout, sys.stderr
