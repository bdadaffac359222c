"""Property tests for the action-argument path: arbitrary text after ``-a`` goes through
the argument scanner, the address parser and the CREATE/CANCEL request parsers; whatever
it is, the outcome is a value or a ``CtysError`` with a one-line message, never another
exception."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctys.address.model import BASEPATH_KEYS, address_from_suboption, base_paths_from_suboption
from ctys.argscan import scan_argv
from ctys.errors import CtysError, UsageError
from ctys.invocation import ActionCall, Suboption
from ctys.plugins.qemu.cancelreq import parse_cancel
from ctys.plugins.qemu.requests import parse_create

# Pieces of real and broken action syntax; random joins of them reach the scanner's corners.
FRAGMENTS = [
    "CREATE", "CANCEL", "LIST", "=", ",", ":", "%", "l", "L", "LABEL", "UUID", "MAC", "IP",
    "TCP", "F", "FILENAME", "PNAME", "ID", "I", "BASEPATH", "B", "CONSOLE", "CLI", "VNC",
    "BOOTMODE", "CD", "KERNEL", "ARGSADD", "CONNECT", "REUSE", "VNCBIND", "WAIT", "INSTMODE",
    "VNCPASS", "ENV", "FILE", "ALL", "POWEROFF", "FORCE", "TIMEOUT", "1e999", "-1", "nan",
    "30", "vm1", "/tmp/x", "~", " ", "\t", "\n", "\x00", "é", "'", '"', "\\", "$(", "`",
    "::", "%%", ",,", "==", "(", ")", "-", "--",
]  # fmt: skip

action_text = st.one_of(st.text(), st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join))


def _breaks_lines(text: str) -> bool:
    return len(f"a{text}b".splitlines()) > 1


def _check_error(err: CtysError, typed: str) -> None:
    """A non-empty message; one line unless the user typed a line break (it is echoed:
    see ``test_typed_line_breaks_are_not_echoed_raw``)."""
    message = str(err)
    assert message.strip(), repr(err)
    if not _breaks_lines(typed):
        assert len(message.splitlines()) == 1, message


def _through_parsers(call: ActionCall, typed: str) -> None:
    for sub in call.suboptions:
        try:
            address_from_suboption(sub)
        except CtysError as err:
            _check_error(err, typed)
        if sub.key in BASEPATH_KEYS and not any(a.startswith("~") for a in sub.args):
            # (``~user`` is checked by the request parsers first: parse_create below.)
            try:
                base_paths_from_suboption(sub)
            except CtysError as err:
                _check_error(err, typed)
    for parse in (parse_create, parse_cancel):  # BASEPATH included, as the CLI meets it
        try:
            parse(call)
        except CtysError as err:
            _check_error(err, typed)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(action_text, st.sampled_from(["", "CREATE=", "CANCEL="]))
def test_any_action_text_gives_a_request_or_ctys_error(text: str, prefix: str) -> None:
    try:
        invocation = scan_argv(["-t", "QEMU", "-a", prefix + text])
    except CtysError as err:
        _check_error(err, text)
        return
    action = invocation.action
    assert action is not None
    _through_parsers(action, text)
    # The same suboptions under both action names: every parser sees every shape.
    _through_parsers(ActionCall("CREATE", action.suboptions), text)


suboption = st.builds(
    Suboption,
    key=st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)),
    args=st.lists(st.text(max_size=12), max_size=4).map(tuple),
    raw=st.text(max_size=20),
)


@settings(max_examples=1500)
@given(st.lists(suboption, max_size=6))
def test_arbitrary_suboptions_give_a_request_or_ctys_error(subs: list[Suboption]) -> None:
    typed = "".join(s.raw + s.key + "".join(s.args) for s in subs)
    _through_parsers(ActionCall("CREATE", tuple(subs)), typed)


def test_typed_line_breaks_are_not_echoed_raw(
    capsys: pytest.CaptureFixture[str], ctys_env: dict[str, str]
) -> None:
    from ctys.cli.main import main

    assert main(["-t", "QEMU", "-a", "CREATE=l:x,BO\nGUS\x1b[2J"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "\x1b" not in err, err


@pytest.mark.parametrize(
    "sub",
    [
        "BASEPATH:~nosuchuser",
        "F:~nosuchuser/vm.conf",
        "BOOTMODE:CD%~nosuchuser/x.iso",
        "KERNEL:~nosuchuser/vmlinuz",
        "VNCPASS:FILE%~nosuchuser/pw",
        "INSTMODE:CD%~nosuchuser/x.iso%HDD%INIT",
    ],
)
def test_home_dir_of_unknown_user_is_a_usage_error(sub: str) -> None:
    # Found by the fuzzer: pathlib raised RuntimeError("Could not determine home directory").
    call = scan_argv(["-t", "QEMU", "-a", f"CREATE=l:x,{sub}"]).action
    assert call is not None
    with pytest.raises(UsageError, match="no home directory for '~nosuchuser'"):
        parse_create(call)


@pytest.mark.parametrize("sub", ["F:~a\x00b/vm.conf", "BASEPATH:/x\x00y", "KERNEL:~\x00"])
def test_a_nul_byte_in_a_path_is_a_usage_error(sub: str) -> None:
    # Found by the fuzzer: pathlib raised a bare ValueError("embedded null byte").
    call = scan_argv(["-t", "QEMU", "-a", f"CREATE=l:x,{sub}"]).action
    assert call is not None
    with pytest.raises(UsageError, match="a path cannot hold a NUL byte"):
        parse_create(call)
