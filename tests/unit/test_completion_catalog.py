"""The plugin catalog of completion: from the registry, cached with a fingerprint, and a
completion call that does not import the plugin when the cache is current."""

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


def test_every_action_has_its_table() -> None:
    assert set(BY_ACTION) == set(load_plugin("QEMU").actions())


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
    assert calls == []  # current fingerprint: the registry was not asked


def test_stale_or_broken_cache_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "completion.json"
    path.write_text(
        json.dumps({"fingerprint": "old", "plugins": {"QEMU": {"actions": {}, "suboptions": {}}}})
    )
    assert "CREATE" in catalog.load_catalogs(path)["QEMU"].actions
    path.write_text("{broken")
    assert "CREATE" in catalog.load_catalogs(path)["QEMU"].actions
    assert json.loads(path.read_text())["fingerprint"] == catalog.fingerprint(
        catalog.builtin_plugin_dirs()
    )


def test_fingerprint_follows_the_plugin_files(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    before = catalog.fingerprint({"P": tmp_path})
    (tmp_path / "a.py").write_text("x = 12\n")
    assert catalog.fingerprint({"P": tmp_path}) != before


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
