"""The plugin catalog of completion: from the registry, cached with a stamp of its source
files, and a completion call that does not import the plugin when the cache is current."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctys.completion import catalog
from ctys.plugins.base import SuboptionSpec, ValueKind
from ctys.plugins.qemu.suboptions import BY_ACTION
from ctys.plugins.registry import load_plugin


def test_catalog_comes_from_the_plugin() -> None:
    qemu = catalog.catalog_of("QEMU")
    assert qemu.actions == load_plugin("QEMU").actions()
    assert set(qemu.suboptions) == set(qemu.actions)
    assert qemu.suboptions["CREATE"]["CONSOLE"].kind is ValueKind.CHOICE
    assert qemu.suboptions["CREATE"]["L"].kind is ValueKind.LABEL


def test_every_table_is_an_actions() -> None:
    # (An action without a table yet completes its name only: a new action's table is one
    # more entry in BY_ACTION.)
    assert set(BY_ACTION) <= set(load_plugin("QEMU").actions())
    assert {"CREATE", "CANCEL", "LIST", "ENUMERATE", "INFO"} <= set(BY_ACTION)


def test_json_round_trip() -> None:
    cats = {
        "X": catalog.PluginCatalog(
            {"A": "a"}, {"A": {"K": SuboptionSpec("k", ValueKind.CHOICE, ("1", "2"))}}
        )
    }
    assert catalog.from_json(json.loads(json.dumps(catalog.to_json(cats)))) == cats


def test_cache_is_written_private_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c" / "completion.json"
    first = catalog.load_catalogs(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    calls: list[str] = []
    monkeypatch.setattr(catalog, "catalog_of", lambda name: calls.append(name))
    assert catalog.load_catalogs(path) == first
    assert calls == []  # current stamp: the registry was not asked


def test_stale_or_broken_cache_is_rebuilt(tmp_path: Path) -> None:
    # A stale stamp (a source file changed) with tables of no action: rebuilt, not used.
    path = tmp_path / "completion.json"
    empty = {"QEMU": {"actions": {}, "suboptions": {}}}
    path.write_text(json.dumps({"names": ["QEMU"], "files": [], "stamp": "old", "plugins": empty}))
    assert "CREATE" in catalog.load_catalogs(path)["QEMU"].actions
    path.write_text("{broken")
    assert "CREATE" in catalog.load_catalogs(path)["QEMU"].actions
    data = json.loads(path.read_text())
    assert data["stamp"] == catalog.fingerprint(data["files"])


def test_the_stamp_follows_the_files(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    files = [str(tmp_path / "a.py"), str(tmp_path / "gone.py")]
    before = catalog.fingerprint(files)
    assert catalog.fingerprint(files) == before
    (tmp_path / "a.py").write_text("x = 12\n")
    assert catalog.fingerprint(files) != before


def test_a_cache_another_ctys_install_wrote_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two checkouts (or venvs) share one ~/.cache: the other's cache names its own,
    unchanged files, so only the install's own place in the stamp tells it apart."""
    import ctys

    path = tmp_path / "completion.json"
    catalog.load_catalogs(path)
    other = tmp_path / "other" / "ctys" / "__init__.py"
    other.parent.mkdir(parents=True)
    other.write_text("")
    monkeypatch.setattr(ctys, "__file__", str(other))
    assert catalog._read(path, ["QEMU"]) is None


def test_the_cache_lists_the_files_the_tables_come_from(tmp_path: Path) -> None:
    catalog.load_catalogs(tmp_path / "completion.json")
    files = json.loads((tmp_path / "completion.json").read_text())["files"]
    for module in ("plugins/qemu/__init__.py", "plugins/qemu/suboptions.py", "address/model.py"):
        assert any(f.endswith(module) for f in files), module


_PROBE = """
import sys
from ctys.cli.complete import main
main(["--shell", "fish", "--", "-a", "CREATE=l:x,CON"])
heavy = ("ctys.plugins.qemu", "qemu", "rich", "psutil")
heavy = sorted(m for m in sys.modules if m.startswith(heavy))
print("HEAVY", heavy, file=sys.stderr)
"""


def test_a_warm_completion_imports_no_plugin(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "HOME": str(tmp_path)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True
        )
        for _ in range(2)
    ]
    assert "CREATE=l:x,CONSOLE:\tthe console to open" in runs[1].stdout.splitlines()
    assert runs[0].stdout == runs[1].stdout
    assert "'ctys.plugins.qemu'" in runs[0].stderr  # cold: the registry loaded it
    assert "HEAVY []" in runs[1].stderr


FAKEPLUGIN = Path(__file__).resolve().parents[1] / "fakeplugin"


def test_a_plugin_of_another_package_is_asked_live(tmp_path: Path) -> None:
    # FAKE is only an entry point (tests/fakeplugin): -t FAKE loads it through the registry.
    path = os.pathsep.join(p for p in (str(FAKEPLUGIN), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "XDG_CACHE_HOME": str(tmp_path)}
    helper = Path(sys.executable).parent / "ctys-complete"
    out = subprocess.run(
        [str(helper), "--shell", "fish", "--", "-t", "FAKE", "-a", "LIST="],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "LIST=JSON\tJSON rows\n"
    cached = json.loads((tmp_path / "ctys" / "completion.json").read_text())
    assert list(cached["plugins"]) == ["QEMU"]  # only the built-in plugins are cached
