"""What a folder scan passes over is said, never a traceback: looping or dangling symlinks
named ``*.conf``, conf files over the size limit, folders that cannot be read, missing
BASEPATHs; bad ``#@#UUID``/``#@#MAC`` values are named with file:line by ENUMERATE
(issue 9, points 14 and 17). Through the real entry point, no qemu is booted."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from otheruser import run_as

from ctys.address import scan
from ctys.cli.main import main
from ctys.conf.parser import MAX_CONF_BYTES

CONF = """\
#@#MAGICID-QEMU
#@#LABEL = {label}
#@#ACCELERATOR = TCG
KERNEL={kernel}
"""


@pytest.fixture
def vmdir(ctys_env: dict[str, str]) -> Path:
    return Path(ctys_env["CTYS_VMPATH"])


@pytest.fixture
def good(vmdir: Path) -> Path:
    """A valid VM ``good`` beside the bad things of each test."""
    (vmdir / "good").mkdir()
    kernel = vmdir / "good" / "vmlinuz"
    kernel.write_bytes(b"not really a kernel")
    conf = vmdir / "good" / "good.conf"
    conf.write_text(CONF.format(label="good", kernel=kernel))
    return conf


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return code, captured.out, captured.err.strip().splitlines()


def enumerate_json(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list, list]:
    code, out, err = run(capsys, "-t", "QEMU", "-a", ",".join(["ENUMERATE", *extra]), "-o", "json")
    return code, [row["LABEL"] for row in json.loads(out)] if out else [], err


def loop(folder: Path, name: str = "loop.conf") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / name
    link.symlink_to(name)  # points at itself
    return link


# --- point 14: symlink loops ----------------------------------------------------------


def test_enumerate_warns_about_a_looping_conf_symlink_and_goes_on(
    capsys: pytest.CaptureFixture[str], vmdir: Path, good: Path
) -> None:
    link = loop(vmdir / "bad")
    code, labels, err = enumerate_json(capsys)
    assert code == 0
    assert labels == ["good"]
    assert len(err) == 1 and str(link) in err[0] and "symbolic links" in err[0], err


def test_enumerate_warns_about_a_dangling_conf_symlink(
    capsys: pytest.CaptureFixture[str], vmdir: Path, good: Path
) -> None:
    (vmdir / "bad").mkdir()
    link = vmdir / "bad" / "gone.conf"
    link.symlink_to(vmdir / "nowhere.conf")
    code, labels, err = enumerate_json(capsys)
    assert code == 0 and labels == ["good"]
    assert len(err) == 1 and str(link) in err[0], err


def test_list_goes_on_past_a_looping_conf_symlink(
    capsys: pytest.CaptureFixture[str], vmdir: Path, good: Path
) -> None:
    loop(vmdir / "bad")
    code, _, err = run(capsys, "-t", "QEMU", "-a", "LIST")
    assert code == 0, err


def test_address_resolution_goes_on_past_a_looping_conf_symlink(
    capsys: pytest.CaptureFixture[str], vmdir: Path, good: Path, ctys_env: dict[str, str]
) -> None:
    loop(vmdir / "bad")
    # Resolved by a scan (no inventory): the good VM is found, it is just not running.
    code, _, err = run(capsys, "-t", "QEMU", "-a", "CANCEL=l:good")
    assert code == 1 and err == ["ctys: VM good is not running"]
    code, _, err = run(capsys, "-t", "QEMU", "-a", "CREATE=l:nosuch")
    assert code == 1 and len(err) == 1 and "1 conf file(s) unreadable" in err[0], err
    assert not list(Path(ctys_env["CTYS_RUNTIME_DIR"]).glob("vms/*"))


@pytest.mark.parametrize("kind", ["F", "BASEPATH"])
def test_a_looping_path_in_an_address_is_one_line(
    capsys: pytest.CaptureFixture[str], vmdir: Path, good: Path, kind: str
) -> None:
    link = loop(vmdir / "bad")
    address = f"F:{link}" if kind == "F" else f"l:good,BASEPATH:{link}"
    code, _, err = run(capsys, "-t", "QEMU", "-a", f"CANCEL={address}")
    assert code == 1 and len(err) == 1 and err[0].startswith("ctys: "), err


def test_enumerate_of_a_looping_basepath_is_one_line(
    capsys: pytest.CaptureFixture[str], vmdir: Path, good: Path
) -> None:
    link = loop(vmdir, "looping")
    code, _, err = run(capsys, "-t", "QEMU", "-a", f"ENUMERATE=BASEPATH:{link}")
    assert code == 1 and len(err) == 1 and str(link) in err[0], err


def test_inventory_lookup_by_a_looping_conf_path_is_one_line(
    capsys: pytest.CaptureFixture[str], vmdir: Path, good: Path
) -> None:
    assert run(capsys, "-t", "QEMU", "-a", "ENUMERATE")[0] == 0
    link = loop(vmdir / "bad")
    code, _, err = run(capsys, "-t", "QEMU", "-a", f"CANCEL=F:{link},l:good")
    assert code == 1 and len(err) == 1 and err[0].startswith("ctys: "), err


# --- point 17: what ENUMERATE skipped is said -----------------------------------------


def test_enumerate_names_a_conf_over_the_size_limit(
    capsys: pytest.CaptureFixture[str], vmdir: Path, good: Path
) -> None:
    (vmdir / "big").mkdir()
    big = vmdir / "big" / "big.conf"
    big.write_text("#@#MAGICID-QEMU\n" + "#" * MAX_CONF_BYTES + "\n")
    code, labels, err = enumerate_json(capsys)
    assert code == 0 and labels == ["good"]
    assert len(err) == 1 and str(big) in err[0] and str(MAX_CONF_BYTES) in err[0], err


def test_enumerate_names_a_folder_it_cannot_read(
    capsys: pytest.CaptureFixture[str],
    vmdir: Path,
    good: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = vmdir / "closed"
    closed.mkdir()
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        # Root reads every folder whatever its mode: refuse this one as the kernel would.
        if Path(path) == closed:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(scan.os, "scandir", scandir)
    code, labels, err = enumerate_json(capsys)
    assert code == 0 and labels == ["good"]
    assert len(err) == 1 and str(closed) in err[0] and "Permission denied" in err[0], err


def test_another_user_is_told_which_folder_it_cannot_read(
    short_tmp: Path, vmdir: Path, good: Path, other_user: str
) -> None:
    """For real: a folder 0700 of ours in a VM tree that ``nobody`` enumerates."""
    closed = vmdir / "closed"
    closed.mkdir(mode=0o700)
    (closed / "x.conf").write_text("#@#MAGICID-QEMU\n")
    for folder in (short_tmp, vmdir, vmdir / "good"):
        folder.chmod(0o755)
    home = short_tmp / "home"
    home.mkdir()
    shutil.chown(home, other_user)
    done = run_as(
        other_user, "ctys.cli.main", "-t", "QEMU", "-a", "ENUMERATE", "-o", "json",
        env={
            "CTYS_VMPATH": str(vmdir),
            "CTYS_RUNTIME_DIR": str(home / "rt"),
            "CTYS_INVENTORY": str(home / "inventory.sqlite"),
            "XDG_CACHE_HOME": str(home / "cache"),
        },
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [row["LABEL"] for row in json.loads(done.stdout)] == ["good"]
    assert done.stderr == f"ctys: warning: cannot read folder {closed}: Permission denied\n"


def test_enumerate_of_a_missing_basepath_is_an_error(
    capsys: pytest.CaptureFixture[str], vmdir: Path, good: Path, ctys_env: dict[str, str]
) -> None:
    missing = vmdir / "nosuch"
    code, out, err = run(capsys, "-t", "QEMU", "-a", f"ENUMERATE=BASEPATH:{vmdir}%{missing}")
    assert code == 1 and out == ""
    assert len(err) == 1 and err[0].startswith("ctys: ") and str(missing) in err[0], err
    assert not Path(ctys_env["CTYS_INVENTORY"]).exists()


def test_enumerate_warns_about_a_missing_default_folder(
    capsys: pytest.CaptureFixture[str], vmdir: Path, good: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = vmdir.parent / "gone"
    monkeypatch.setenv("CTYS_VMPATH", f"{vmdir}:{missing}")
    code, labels, err = enumerate_json(capsys)
    assert code == 0 and labels == ["good"]
    assert len(err) == 1 and str(missing) in err[0] and "does not exist" in err[0], err


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("#@#UUID = not-a-uuid", "#@#UUID"),
        ("#@#UUID = 5a2b7c1e-93d4-4c0e-9f6a-0b1c2d3e4f5", "#@#UUID"),  # one digit short
        ("UUID=5a2b7c1e93d44c0e9f6a0b1c2d3e4f50", "UUID"),  # QEMU wants the dashes
        ("#@#MAC = 52:54:00:12:34", "#@#MAC"),
        ("#@#MAC = zz:54:00:12:34:56", "#@#MAC"),
        ("#@#MAC = 01:54:00:12:34:56", "#@#MAC"),  # multicast: no NIC can have it
        ("MAC1=52:54:00:12:34:5", "MAC1"),
    ],
)
def test_enumerate_reports_bad_uuid_and_mac_with_file_and_line(
    capsys: pytest.CaptureFixture[str], vmdir: Path, good: Path, line: str, needle: str
) -> None:
    (vmdir / "bad").mkdir()
    conf = vmdir / "bad" / "bad.conf"
    conf.write_text(f"#@#MAGICID-QEMU\n#@#LABEL = bad\n{line}\n")
    code, labels, err = enumerate_json(capsys)
    assert code == 0 and labels == ["good"]
    assert len(err) == 1 and f"{conf}:3: {needle}" in err[0], err
    # CREATE refuses it before anything starts, with the same words.
    code, _, err = run(capsys, "-t", "QEMU", "-a", f"CREATE=F:{conf}")
    assert code == 1 and len(err) == 1 and f"{conf}:3: {needle}" in err[0], err


@pytest.mark.parametrize(
    "line",
    [
        "#@#UUID = 5A2B7C1E-93D4-4C0E-9F6A-0B1C2D3E4F50",
        "#@#MAC = 52-54-00-AB-CD-EF",
        "MAC2=52:54:00:ab:cd:ef",
    ],
)
def test_good_uuid_and_mac_spellings_pass(
    capsys: pytest.CaptureFixture[str], vmdir: Path, good: Path, line: str
) -> None:
    (vmdir / "ok").mkdir()
    (vmdir / "ok" / "ok.conf").write_text(f"#@#MAGICID-QEMU\n#@#LABEL = ok\n{line}\n")
    code, labels, err = enumerate_json(capsys)
    assert code == 0 and sorted(labels) == ["good", "ok"] and err == []
