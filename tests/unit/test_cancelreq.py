"""CANCEL's syntax as the original's ctys(1) gives it: modes, FORCE|STACK, SELF,
CLIENT|SERVER|BOTH, TIMEOUT, USER, MACHINE — each accepted form and each refusal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.argscan import parse_action
from ctys.errors import UsageError
from ctys.plugins.qemu.cancelreq import (
    DEFAULT_TIMEOUT,
    CancelMode,
    CancelRequest,
    Scope,
    SelfRequest,
    parse_cancel,
)


def cancel(text: str) -> CancelRequest:
    return parse_cancel(parse_action(f"CANCEL={text}"))


def test_defaults_are_the_originals() -> None:
    req = cancel("l:vm1")
    assert req.mode is CancelMode.POWEROFF
    assert not req.force and req.stack
    assert req.scope is Scope.SERVER
    assert req.timeout == req.stop_timeout == DEFAULT_TIMEOUT == 20.0
    assert req.self_target is None and req.user is None and not req.machine


@pytest.mark.parametrize(
    ("word", "mode"),
    [
        ("POWEROFF", CancelMode.POWEROFF),
        ("S5", CancelMode.POWEROFF),
        ("REBOOT", CancelMode.REBOOT),
        ("RESET", CancelMode.RESET),
        ("PAUSE", CancelMode.PAUSE),
        ("S3", CancelMode.PAUSE),
        ("SUSPEND", CancelMode.SUSPEND),
        ("S4", CancelMode.SUSPEND),
        ("INIT:3", CancelMode.INIT),
    ],
)
@pytest.mark.parametrize("flag", ["", ",FORCE", ",STACK"])
def test_every_mode_combines_with_force_and_stack(word: str, mode: CancelMode, flag: str) -> None:
    req = cancel(f"l:v,{word}{flag}")
    assert req.mode is mode
    assert req.force is (flag == ",FORCE")
    assert req.stack is (flag != ",FORCE")


def test_force_is_a_flag_not_a_mode_and_keeps_the_mode_given_before_it() -> None:
    req = cancel("l:v,REBOOT,FORCE")
    assert req.mode is CancelMode.REBOOT and req.force
    assert cancel("l:v,FORCE").mode is CancelMode.POWEROFF


def test_poweroff_timeout_and_timeout() -> None:
    req = cancel("l:v,POWEROFF:5,TIMEOUT:40")
    assert req.poweroff_timeout == 5.0 and req.timeout == 40.0
    assert req.stop_timeout == 5.0  # this VM's wait; TIMEOUT is each inner level's
    assert cancel("l:v,S5:0").stop_timeout == 0.0
    assert cancel("l:v,TIMEOUT:7").stop_timeout == 7.0


def test_init_level() -> None:
    assert cancel("l:v,INIT:6").init_level == "6"
    assert cancel("l:v,INIT:S").init_level == "S"


def test_scope_self_user_machine() -> None:
    assert cancel("l:v,CLIENT").scope is Scope.CLIENT
    both = cancel("ALL,BOTH,SELF:lab01,USER:root,MACHINE")
    assert both.scope is Scope.BOTH and both.scope.clients and both.scope.server
    assert both.self_target == SelfRequest("lab01")
    assert both.user == "root" and both.machine and both.all_vms
    assert cancel("ALL,SELF").self_target == SelfRequest(None)


def test_the_originals_full_line() -> None:
    req = cancel("ALL,FORCE,SELF:h,POWEROFF:20,BOTH,TIMEOUT:30,USER:arno")
    assert (req.force, req.mode, req.stop_timeout, req.scope, req.timeout, req.user) == (
        True,
        CancelMode.POWEROFF,
        20.0,
        Scope.BOTH,
        30.0,
        "arno",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("TIMEOUT:3", "needs a machine address"),
        ("ALL,l:v", "either ALL or a machine address"),
        ("l:v,POWEROFF,REBOOT", "one mode, not POWEROFF and REBOOT"),
        ("l:v,S3,S4", "one mode, not S3 and S4"),
        ("l:v,FORCE,STACK", "one of FORCE|STACK, not both FORCE and STACK"),
        ("l:v,CLIENT,BOTH", "one of CLIENT|SERVER|BOTH"),
        ("l:v,CLIENT,RESET", "CLIENT closes the VM's viewers only; it takes no mode"),
        ("l:v,CLIENT,SELF:h", "SELF needs SERVER or BOTH"),
        ("l:v,INIT", "needs one value"),
        ("l:v,INIT:9", "INIT needs a run level 0-6 or S"),
        ("l:v,POWEROFF:soon", "POWEROFF needs seconds"),
        ("l:v,S5:-1", "out of range"),
        ("l:v,TIMEOUT:nan", "out of range"),
        ("l:v,TIMEOUT:1e999", "out of range"),
        ("l:v,REBOOT:3", "takes no value"),
        ("l:v,FORCE:1", "takes no value"),
        ("l:v,SELF:a%b", "expected SELF or SELF:<hostname>"),
        ("l:v,USER", "needs a user name"),
        ("l:v,USER:root%secret", "a credential is never given on the command line"),
        ("l:v,USER:root%ENV%PW", "a credential is never given on the command line"),
        ("l:v,HALT", "unknown CANCEL suboption 'HALT'"),
    ],
)
def test_refusals_name_the_token(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("|", r"\|")):
        cancel(text)


_WORDS = ["ALL", "l:v", "FORCE", "STACK", "SELF", "SELF:h", "REBOOT", "RESET", "INIT:1",
          "PAUSE", "S3", "SUSPEND", "S4", "POWEROFF", "S5:3", "CLIENT", "SERVER", "BOTH",
          "TIMEOUT:2", "USER:u", "MACHINE", "X", "INIT:x", "TIMEOUT:-3"]  # fmt: skip


@given(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=6))
def test_any_combination_parses_or_is_one_usage_error(words: list[str]) -> None:
    try:
        req = cancel(",".join(words))
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    modes = [w for w in words if w.split(":")[0] in CancelMode.__members__ or w[:2] in
             ("S3", "S4", "S5")]  # fmt: skip
    assert len(modes) <= 1
    assert req.force is ("FORCE" in words)
