"""The QEMU plugin's suboption table (``plugins/qemu/suboptions``) names only keys its
parsers accept: each key, with a value of its kind, is no 'unknown suboption'."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest

from ctys.argscan import parse_action
from ctys.errors import UsageError
from ctys.invocation import ActionCall, OutputFormat
from ctys.plugins.base import SuboptionSpec, ValueKind
from ctys.plugins.qemu.suboptions import BY_ACTION

# Where the parsers live (they move as the plugin grows: CANCEL's own request module, LIST's
# output module): the first of these modules that has the function.
_PARSER_MODULES = (
    "ctys.plugins.qemu.requests",
    "ctys.plugins.qemu.cancelreq",
    "ctys.plugins.qemu.actions.listout",
    "ctys.plugins.qemu.actions.list",
)


def _parser(name: str) -> Callable[..., object]:
    for module in _PARSER_MODULES:
        try:
            found = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if callable(found):
            return found  # type: ignore[no-any-return]
    raise AssertionError(f"{name} is in none of {_PARSER_MODULES}: add its module there")


def parse_create(call: ActionCall) -> object:
    return _parser("parse_create")(call)


def parse_cancel(call: ActionCall) -> object:
    return _parser("parse_cancel")(call)


def parse_list_request(call: ActionCall, fields: tuple[str, ...], fmt: OutputFormat) -> object:
    return _parser("parse_list_request")(call, fields, fmt)


def _word(key: str, spec: SuboptionSpec) -> str:
    value = {
        ValueKind.NONE: "",
        ValueKind.CHOICE: spec.choices[0] if spec.choices else "",
        ValueKind.LABEL: "vm",
        ValueKind.PATH: "/tmp",
        ValueKind.TEXT: "1",
    }[spec.kind]
    return f"{key}:{value}" if value else key


def _cases(action: str) -> list[str]:
    return [_word(key, spec) for key, spec in BY_ACTION[action].items()]


def _accepted(parse: object, text: str) -> None:
    try:
        parse(parse_action(text))  # type: ignore[operator]
    except UsageError as err:
        assert "unknown" not in str(err).lower() or "boot mode" in str(err), err


@pytest.mark.parametrize("word", _cases("CREATE"))
def test_create_keys_are_parsed(word: str) -> None:
    _accepted(parse_create, f"CREATE=l:vm,{word}")


@pytest.mark.parametrize("word", _cases("CANCEL"))
def test_cancel_keys_are_parsed(word: str) -> None:
    _accepted(parse_cancel, f"CANCEL=l:vm,{word}")


@pytest.mark.parametrize("word", _cases("LIST"))
def test_list_keys_are_parsed(word: str) -> None:
    parse_list_request(parse_action(f"LIST={word}"), (), OutputFormat.TABLE)


def test_a_key_the_parser_refuses_would_fail() -> None:
    with pytest.raises(AssertionError):
        _accepted(parse_create, "CREATE=l:vm,NOSUCHKEY")


def test_every_help_is_one_line() -> None:
    for table in BY_ACTION.values():
        for key, spec in table.items():
            assert key == key.upper() and spec.help and "\n" not in spec.help
            assert (spec.kind is ValueKind.CHOICE) == bool(spec.choices), key


@pytest.mark.parametrize("word", _cases("SNAPSHOT"))
def test_snapshot_keys_are_parsed(word: str) -> None:
    from ctys.plugins.qemu.snapreq import parse_snapshot

    _accepted(lambda call: parse_snapshot(call, OutputFormat.TABLE), f"SNAPSHOT=l:vm,{word}")
