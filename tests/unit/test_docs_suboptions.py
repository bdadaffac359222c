"""Docs cannot drift from the code: every suboption the QEMU plugin accepts is named in
``ctys -t QEMU -h`` and in docs/cli.md, and the documented ``-o`` examples work.

The accepted keys are found by asking the real parsers: every upper-case word in their
source is offered as a key to every action, and a key the parser does not refuse as
unknown is accepted — so a new suboption is caught here even when nobody lists it."""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest

import ctys.address.model as address_mod
import ctys.formats.listfields as listfields_mod
import ctys.formats.request as formats_mod
import ctys.plugins.qemu.actions.enumerate as enumerate_mod
import ctys.plugins.qemu.actions.info as info_mod
import ctys.plugins.qemu.actions.list as list_mod
import ctys.plugins.qemu.actions.listout as listout_mod
import ctys.plugins.qemu.cancelreq as cancelreq_mod
import ctys.plugins.qemu.requests as requests_mod
import ctys.plugins.qemu.snapreq as snapreq_mod
import ctys.tables as output_mod
from ctys.argscan import scan_argv
from ctys.errors import UsageError
from ctys.invocation import ActionCall, OutputFormat, Suboption
from ctys.plugins.base import RunContext
from ctys.plugins.qemu import QemuPlugin
from ctys.plugins.qemu.actions.enumerate import parse_enumerate
from ctys.plugins.qemu.actions.info import run_info
from ctys.plugins.qemu.actions.list import select_ctys_fields
from ctys.plugins.qemu.actions.listout import parse_list_request
from ctys.plugins.qemu.cancelreq import parse_cancel
from ctys.plugins.qemu.requests import parse_create
from ctys.plugins.qemu.snapreq import parse_snapshot

ROOT = Path(__file__).resolve().parents[2]
CLI_DOC = ROOT / "docs" / "cli.md"
_PARSER_MODULES = (
    requests_mod,
    cancelreq_mod,
    snapreq_mod,
    enumerate_mod,
    info_mod,
    list_mod,
    listout_mod,
    listfields_mod,
    formats_mod,
    output_mod,
    address_mod,
)
_WORD = re.compile(r"[A-Z][A-Z0-9_]*")
_ARGS: tuple[tuple[str, ...], ...] = ((), ("x",), ("x", "y"), ("CD", "", "HDD", "", "INIT"))


class _Probed(Exception):
    """INFO got past its suboptions (it would probe the host's qemu now)."""


def _candidate_keys() -> set[str]:
    words: set[str] = set()
    for module in _PARSER_MODULES:
        tree = ast.parse(Path(str(module.__file__)).read_text())
        for node in ast.walk(tree):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if is_text and _WORD.fullmatch(node.value):
                words.add(node.value)
    words |= set(address_mod.ADDRESS_KEYS) | set(address_mod.BASEPATH_KEYS)
    words |= set(cancelreq_mod.CancelMode.__members__) | set(output_mod.FORMAT_SUBOPTIONS)
    return words


def _ctx() -> RunContext:
    invocation = scan_argv(["-t", "QEMU", "-a", "LIST"])
    return RunContext(invocation=invocation, out=io.StringIO(), err=io.StringIO())


def _info(call: ActionCall) -> None:
    run_info(call, _ctx())


_PARSERS: dict[str, Callable[[ActionCall], object]] = {
    "CREATE": parse_create,
    "CANCEL": parse_cancel,
    "LIST": lambda call: parse_list_request(call, (), OutputFormat.TABLE),
    "ENUMERATE": lambda call: parse_enumerate(call, _ctx()),
    "INFO": _info,
    "SNAPSHOT": lambda call: parse_snapshot(call, OutputFormat.TABLE),
}


def _accepts(action: str, key: str) -> bool:
    """Whether ``action`` takes ``key`` in some form (with no, one or more values)."""
    for args in _ARGS:
        call = ActionCall(action, (Suboption(key, args, f"{key}:{'%'.join(args)}"),))
        try:
            _PARSERS[action](call)
        except UsageError as exc:
            if "unknown" in str(exc).lower():
                continue
            return True  # known key, wrong values or combination
        except _Probed:
            return True
        except Exception:  # e.g. a ctys error of a check after parsing: the key was taken
            return True
        return True
    return False


@pytest.fixture
def accepted(monkeypatch: pytest.MonkeyPatch) -> dict[str, set[str]]:
    def probed(*args: object, **kwargs: object) -> None:
        raise _Probed

    monkeypatch.setattr("ctys.plugins.qemu.host.detect.detect_host", probed)
    monkeypatch.setattr(info_mod, "host_load", probed, raising=False)
    keys = _candidate_keys()
    return {action: {k for k in keys if _accepts(action, k)} for action in _PARSERS}


def _named(key: str, text: str) -> bool:
    # One-letter keys are written lower case with their colon (l:LABEL, F:/path); longer
    # keys as upper-case words (CONNECT, WAIT:TEXT).
    if len(key) == 1:
        return re.search(rf"(?<![A-Za-z0-9_]){key}:", text, re.IGNORECASE) is not None
    return re.search(rf"(?<![A-Za-z0-9_]){key}(?![A-Za-z0-9_])", text) is not None


def test_the_probe_tells_known_from_unknown_keys(accepted: dict[str, set[str]]) -> None:
    # The probe itself must be able to fail: a made-up key is refused by every action.
    assert not any(_accepts(action, "NOSUCHKEY") for action in _PARSERS)
    assert {"CONNECT", "REUSE", "WAIT", "INSTMODE", "VNCPASS", "L"} <= accepted["CREATE"]
    assert {"ALL", "TIMEOUT", "FORCE"} <= accepted["CANCEL"]
    assert {"REFRESH", "LOAD"} <= accepted["INFO"]


def test_every_accepted_suboption_is_in_the_plugin_help(accepted: dict[str, set[str]]) -> None:
    text = QemuPlugin().help(None)
    missing = sorted(
        f"{a} {k}" for a, keys in accepted.items() for k in keys if not _named(k, text)
    )
    assert missing == [], f"not in `ctys -t QEMU -h`: {missing}"


def test_every_accepted_suboption_is_in_the_cli_doc(accepted: dict[str, set[str]]) -> None:
    text = CLI_DOC.read_text()
    missing = sorted(
        f"{a} {k}" for a, keys in accepted.items() for k in keys if not _named(k, text)
    )
    assert missing == [], f"not in docs/cli.md: {missing}"


def _documented_o_specs() -> list[str]:
    """The ``-o`` values of docs/cli.md: its table rows and its example commands."""
    text = CLI_DOC.read_text()
    specs = re.findall(r"^\| `([^`|]+)` \| (?:table|JSON|`;`)", text, re.MULTILINE)
    specs += re.findall(r"-a LIST\S* -o (\S+)", text)
    return specs


def test_the_documented_o_examples_work_with_list() -> None:
    specs = _documented_o_specs()
    assert len(specs) >= 3, specs
    for spec in specs:
        invocation = scan_argv(["-t", "QEMU", "-a", "LIST", "-o", spec])
        select_ctys_fields(invocation.output_fields, invocation.output_format)  # raises if bad


def test_the_license_is_an_spdx_string_for_a_setuptools_that_knows_it() -> None:
    # A TOML-table license makes setuptools print a deprecation warning three times on
    # every install; an SPDX string needs setuptools 77 or later.
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "GPL-3.0-or-later"
    [setuptools] = [r for r in project["build-system"]["requires"] if r.startswith("setuptools")]
    assert setuptools == "setuptools>=77"
