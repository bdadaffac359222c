"""The shell scripts of completion (``ctys/completion/shells``), run by the real shells:
bash through its completion variables, zsh with a stand-in ``compadd``, fish with
``complete -C``. zsh and fish are skipped where they are not installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from ctys.cli.complete import main

SHELLS = resources.files("ctys.completion").joinpath("shells")
BIN = Path(sys.executable).parent


def _env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / ".ssh").mkdir(exist_ok=True)
    (tmp_path / ".ssh" / "config").write_text("Host web1 web2\n")
    return {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "CTYS_INVENTORY": str(tmp_path / "none.sqlite"),
    }


def _bash(line: str, tmp_path: Path) -> list[str]:
    script = (
        f"source {SHELLS / 'ctys.bash'}\n"
        'COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(ctys); COMP_CWORD=1\n'
        "_ctys_complete\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    out = subprocess.run(
        ["bash", "-c", script, "bash", line],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.splitlines()


def test_bash_completes_the_part_after_its_word_breaks(tmp_path: Path) -> None:
    assert _bash("ctys -t QEMU -a CREATE=l:x,CONS", tmp_path) == ["x,CONSOLE:"]
    assert _bash("ctys -t QEMU -a CA", tmp_path) == ["CANCEL="]
    assert _bash("ctys -a LIST web", tmp_path) == ["web1", "web2"]
    assert _bash("ctys -a LIST root@we", tmp_path) == ["web1", "web2"]  # '@' breaks words


def test_bash_reads_candidates_as_data(tmp_path: Path) -> None:
    # A group file whose name would run a command if ctys' answer were evaluated.
    groups = tmp_path / ".ctys" / "groups"
    groups.mkdir(parents=True)
    (groups / "a$(touch pwned)*").write_text("web1\n")
    assert _bash("ctys -a LIST a", tmp_path) == ["a\\$\\(touch\\ pwned\\)\\*"]
    assert not (tmp_path / "pwned").exists()


def test_bash_script_names_ctys() -> None:
    assert "complete -F _ctys_complete ctys" in (SHELLS / "ctys.bash").read_text()


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh not installed")
def test_zsh_adds_the_candidates(tmp_path: Path) -> None:
    script = (
        "compadd() { local a; while (( $# )); do [[ $1 == -a ]] && { shift; a=$1 }; shift; done; "
        'print -rl -- "${(@P)a}" }\n'
        "words=(ctys -t QEMU -a 'CREATE=l:x,CONS'); CURRENT=5; PREFIX='CREATE=l:x,CONS'\n"
        f"source {SHELLS / '_ctys'}\n"
    )
    out = subprocess.run(
        ["zsh", "-f", "-c", script], env=_env(tmp_path), capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines() == ["CREATE=l:x,CONSOLE:"]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish not installed")
def test_fish_completes(tmp_path: Path) -> None:
    script = f"source {SHELLS / 'ctys.fish'}; complete -C 'ctys -t QEMU -a CREATE=l:x,CONS'"
    out = subprocess.run(
        ["fish", "-N", "-c", script], env=_env(tmp_path), capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines() == ["CREATE=l:x,CONSOLE:\tthe console to open"]


def test_script_option_prints_each_script(capsys: pytest.CaptureFixture[str]) -> None:
    for shell, name in (("bash", "ctys.bash"), ("zsh", "_ctys"), ("fish", "ctys.fish")):
        assert main(["--script", shell]) == 0
        assert capsys.readouterr().out == (SHELLS / name).read_text()


def test_bad_usage_is_exit_2_and_a_usage_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--shell", "tcsh", "--", "x"]) == 2
    assert "usage: ctys-complete" in capsys.readouterr().err


def test_control_characters_never_reach_the_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    groups = tmp_path / ".ctys" / "groups"
    groups.mkdir(parents=True)
    (groups / "ok").write_text("")
    (groups / "o\x1b[2J").write_text("")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("CTYS_GROUPS_PATH", raising=False)
    assert main(["--shell", "fish", "--", "-a", "LIST", "o"]) == 0
    assert capsys.readouterr().out == "ok\thost group\n"


def test_bash_script_loaded_at_a_paths_first_tab_registers_that_path() -> None:
    # bash-completion sources the script during the first Tab of ".venv/bin/ctys ..." and
    # retries with that word's compspec.
    script = (
        f"COMP_WORDS=(.venv/bin/ctys -a); source {SHELLS / 'ctys.bash'}; complete -p .venv/bin/ctys"
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "complete -F _ctys_complete .venv/bin/ctys"


def test_labels_of_the_inventory_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ctys.inventory.record import InventoryRecord
    from ctys.inventory.store import Inventory

    path = tmp_path / "inv.sqlite"
    with Inventory.open(path) as inv:
        inv.add(
            InventoryRecord(host="h", label=name, pname=f"/v/{name}.conf", uuid=name)
            for name in ("demo", "debian", "web")
        )
    assert main(["--shell", "bash", "--", f"ctys --inventory {path} -a CREATE=l:de"]) == 0
    assert capsys.readouterr().out == "space\ndebian\ndemo\n"  # bash: the part after the colon
