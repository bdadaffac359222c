"""``-c`` is the original's use of the cacheDB (``ON[,BOTH|LOCAL|REMOTE][,ONLY]|OFF``), not a
file name: ``-c OFF`` switches the inventory off and creates no file named ``OFF``
(issue 12, point 3). ctys' own SQLite file is ``--inventory PATH``."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ctys.argscan import scan_argv
from ctys.cli.main import main
from ctys.errors import UsageError
from ctys.invocation import CacheControl
from ctys.remote.options import invocation_options, options_argv


def test_c_off_enumerates_without_an_inventory_and_leaves_no_file(
    ctys_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    inventory = Path(ctys_env["CTYS_INVENTORY"])
    for word in ("OFF", "off"):
        assert main(["-t", "QEMU", "-a", "ENUMERATE", "-c", word]) == 0
    assert "Traceback" not in capsys.readouterr().err
    assert os.listdir(work) == []
    assert not inventory.exists()


@pytest.mark.parametrize(
    ("word", "control"),
    [("OFF", CacheControl.OFF), ("off", CacheControl.OFF), ("ON", CacheControl.ON),
     ("on,local", CacheControl.ON), ("ON,BOTH", CacheControl.ON), ("ON,REMOTE", CacheControl.ON)],
)  # fmt: skip
def test_c_takes_the_original_words(word: str, control: CacheControl) -> None:
    inv = scan_argv(["-a", "LIST", "-c", word])
    assert inv.cache_control is control and inv.cache_path is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-c", "/var/ctys/inv.sqlite"], "-c takes ON[,BOTH|LOCAL|REMOTE][,ONLY] or OFF"),
        (["-c", "OFFF"], "-c takes ON[,BOTH|LOCAL|REMOTE][,ONLY] or OFF"),
        (["-c", "ON,ONLY", "-C", "off"], "uses the inventory alone, but -C off"),
        (["-c", "OFF,LOCAL"], "-c takes ON[,BOTH|LOCAL|REMOTE][,ONLY] or OFF"),
        (["-c", "LOCAL,REMOTE"], "-c takes ON[,BOTH|LOCAL|REMOTE][,ONLY] or OFF"),
        (["-c", "OFF", "-C", "rebuild"], "-c OFF and -C rebuild exclude each other"),
        (["--inventory", ""], "'--inventory'"),
        (["--inventory"], "needs a value"),
    ],
)
def test_bad_c_values_are_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        scan_argv(["-a", "LIST", *argv])


def test_inventory_names_the_sqlite_file_and_round_trips_to_targets() -> None:
    for argv in (["--inventory", "/x/inv"], ["--inventory=/x/inv"]):
        inv = scan_argv(["-a", "LIST", *argv, "-c", "OFF"])
        assert inv.cache_path == "/x/inv" and inv.cache_control is CacheControl.OFF
        assert scan_argv(options_argv(invocation_options(inv), remote=False)) == inv


def test_p_names_the_db_directory_and_round_trips() -> None:
    inv = scan_argv(["-a", "ENUMERATE", "-p", "/db/default"])
    assert inv.db_dir == "/db/default"
    assert scan_argv(options_argv(invocation_options(inv), remote=False)) == inv
    with pytest.raises(UsageError, match="'-p'"):
        scan_argv(["-a", "ENUMERATE", "-p", ""])
