"""The import layers (issue 10, point 5): ``ctys.cli`` holds only command-line entry points,
so nothing else imports it, and the import-linter contracts carry no debt of that kind.

``.venv/bin/lint-imports`` checks the contracts themselves (CI runs it); these tests check
what the contracts could be made to allow: an ``ignore_imports`` line, or a function-level
import that a reader of the contracts would not expect."""

from __future__ import annotations

import ast
import importlib
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "ctys"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (function-level imports too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _is_cli(name: str) -> bool:
    return name == "ctys.cli" or name.startswith("ctys.cli.")


def test_only_the_entry_points_import_cli() -> None:
    offenders = sorted(
        f"{_module_name(path)} -> {name}"
        for path in SRC.rglob("*.py")
        if not _is_cli(_module_name(path)) and _module_name(path) != "ctys.__main__"
        for name in _imported(path)
        if _is_cli(name)
    )
    assert offenders == []


def _contracts() -> list[dict[str, object]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, object]] = data["tool"]["importlinter"]["contracts"]
    return contracts


def test_no_contract_lets_an_import_of_or_by_cli_through() -> None:
    debt = [
        line
        for contract in _contracts()
        for line in contract.get("ignore_imports", [])  # type: ignore[attr-defined]
        if any(_is_cli(side.strip()) for side in str(line).split("->"))
    ]
    assert debt == []


@pytest.mark.parametrize(
    ("contract_name", "exempt"),
    [
        ("The core never imports ctys.cli", {"cli", "__main__"}),
        (
            "Nothing imports the QEMU plugin (the registry loads it by entry point / module name)",
            set(),
        ),
    ],
)
def test_every_core_module_is_under_the_forbidden_contracts(
    contract_name: str, exempt: set[str]
) -> None:
    # A forbidden contract holds only for the modules it names: a new top-level module that
    # is not among them could import anything.
    [contract] = [c for c in _contracts() if c["name"] == contract_name]
    sources = set(contract["source_modules"])  # type: ignore[call-overload]
    top = {_module_name(p) for p in SRC.iterdir() if p.suffix == ".py" or p.is_dir()}
    top -= {"ctys", "ctys.__pycache__", "ctys.plugins"}
    top |= {"ctys.plugins.base", "ctys.plugins.registry"}
    missing = sorted(n for n in top if n not in sources and n.split(".")[1] not in exempt)
    assert missing == []


def test_every_console_script_points_at_a_function() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for script, target in data["project"]["scripts"].items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), script


def _int_constants(path: Path) -> list[str]:
    """Module-level ``EXIT_... = <int>`` assignments in ``path``."""
    found: list[str] = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.Assign) or not isinstance(node.value, ast.Constant):
            continue
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if isinstance(node.value.value, int) and any(n.startswith("EXIT_") for n in names):
            found.extend(f"{_module_name(path)}.{n}" for n in names)
    return found


def test_exit_statuses_are_written_once_in_errors() -> None:
    # One exit-status enum (ctys.errors.ExitStatus): no module keeps its own numbers.
    assert [name for path in sorted(SRC.rglob("*.py")) for name in _int_constants(path)] == []


def test_every_module_has_its_place_in_the_layers() -> None:
    # A module in no layer is checked by no layer contract: it could import upwards.
    [contract] = [c for c in _contracts() if str(c["name"]).startswith("Layers: cli and plugins")]
    placed = {m.strip() for row in contract["layers"] for m in str(row).split("|")}  # type: ignore[attr-defined]
    top = {_module_name(p) for p in SRC.iterdir() if p.suffix == ".py" or p.is_dir()}
    top -= {"ctys", "ctys.__pycache__", "ctys.plugins"}
    top |= {"ctys.plugins.base", "ctys.plugins.registry", "ctys.plugins.qemu"}
    assert sorted(top - placed) == []


def _core_files() -> list[Path]:
    """Every file of the core: all of src/ctys but the plugin packages (plugins/<name>/)."""
    plugins = SRC / "plugins"
    return [
        path
        for path in sorted(SRC.rglob("*"))
        if path.is_file()
        and path.suffix in (".py", ".sh", ".txt", ".toml", ".json")
        and "__pycache__" not in path.parts
        and not (path.parent != plugins and plugins in path.parents)
    ]


def test_no_core_file_names_a_hypervisor() -> None:
    # Issue 10: the core knows no hypervisor; QEMU lives in ctys.plugins.qemu only.
    files = _core_files()
    assert SRC / "plugins" / "base.py" in files and SRC / "cli" / "main.py" in files
    assert not any("plugins/qemu/" in str(path) for path in files)
    mentions = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in files
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "qemu" in line.lower() or "kvm" in line.lower()
    ]
    assert mentions == []
