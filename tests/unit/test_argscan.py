"""ctys command-line scanning: syntax of SPEC §1."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.argscan import parse_suboptions, parse_target, scan_argv
from ctys.errors import UsageError
from ctys.invocation import (
    ActionCall,
    CacheControl,
    Invocation,
    OutputFormat,
    Suboption,
    Target,
)


def usage_error(argv: list[str]) -> str:
    with pytest.raises(UsageError) as info:
        scan_argv(argv)
    assert info.value.exit_code == 2
    return str(info.value)


# --- action and suboptions ---------------------------------------------------------------


def test_simple_action_upper_cased_with_defaults() -> None:
    inv = scan_argv(["-a", "list"])
    assert inv.action == ActionCall("LIST")
    assert inv.plugin_types == ()
    assert inv.targets == (Target("localhost"),)
    assert inv.help_level == 0
    assert inv.output_format is OutputFormat.TABLE


def test_suboptions_split_at_comma_colon_percent() -> None:
    inv = scan_argv(["-t", "QEMU", "-a", "CREATE=l:vm1,BOOTMODE:CD%/iso/x.iso,CONSOLE:CLI"])
    assert inv.plugin_types == ("QEMU",)
    assert inv.action == ActionCall(
        "CREATE",
        (
            Suboption("L", ("vm1",), "l:vm1"),
            Suboption("BOOTMODE", ("CD", "/iso/x.iso"), "BOOTMODE:CD%/iso/x.iso"),
            Suboption("CONSOLE", ("CLI",), "CONSOLE:CLI"),
        ),
    )


def test_args_keep_case_spaces_equals_and_later_colons() -> None:
    (kernel,) = parse_suboptions("kernel:/k%/i%console=ttyS0 quiet root=/dev/vda:x")
    assert kernel.key == "KERNEL"
    assert kernel.args == ("/k", "/i", "console=ttyS0 quiet root=/dev/vda:x")


def test_key_without_args_and_empty_middle_arg() -> None:
    subs = parse_suboptions("REUSE,KERNEL:/k%%quiet")
    assert subs[0] == Suboption("REUSE", (), "REUSE")
    assert subs[1].args == ("/k", "", "quiet")


def test_backslash_escapes_comma_and_percent() -> None:
    (sub,) = parse_suboptions(r"ARGSADD:-device%e1000\,netdev=n0%50\%%a\b")
    assert sub.args == ("-device", "e1000,netdev=n0", "50%", r"a\b")
    assert sub.raw == r"ARGSADD:-device%e1000\,netdev=n0%50\%%a\b"


def test_double_comma_is_a_literal_comma_as_in_the_original() -> None:
    """The original splits suboptions at single commas and reads ',,' as one comma
    (cliSplitSubOpts), so a kernel argument like console=ttyS0,115200 is written ',,'."""
    subs = parse_suboptions("l:vm1,KERNEL:/k%/i%console=ttyS0,,115200 quiet,CONSOLE:CLI")
    assert [s.key for s in subs] == ["L", "KERNEL", "CONSOLE"]
    assert subs[1].args == ("/k", "/i", "console=ttyS0,115200 quiet")
    # ',,' then ',': a literal comma, then the next suboption.
    subs = parse_suboptions("ARGSADD:-device%e1000,,netdev=n0,,,REUSE")
    assert subs[0].args == ("-device", "e1000,netdev=n0,")
    assert subs[1].key == "REUSE"


def test_bare_labels_and_paths_are_suboptions_the_action_reads() -> None:
    """GETCLIENTPORT=<label>|<id>, ISACTIVE=<id>: a label such as web-1 and an absolute
    path (the original's ID) are suboptions; an action that does not take them refuses
    them as unknown."""
    web, path = parse_suboptions("web-1.b,/vms/a b/x.conf")
    assert (web.key, web.args, web.raw) == ("WEB-1.B", (), "web-1.b")
    assert (path.key, path.args) == ("ID", ("/vms/a b/x.conf",))


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("CREATE=a,,b", "bad suboption key 'a,,b'"),
        ("CREATE=a,", "empty suboption in 'a,'"),
        ("CREATE=,a", "empty suboption in ',a'"),
        ("CREATE=:x", "':x'"),
        ("CREATE=l-x:1", "'l-x'"),
        ("CREATE=b.c:x", "'b.c'"),
        ("CREATE=a b", "'a b'"),
        ("CREATE=BOOTMODE:", "'BOOTMODE:'"),
        ("CREATE=", "'CREATE='"),
        ("CRE ATE", "'CRE ATE'"),
        ("=x", "''"),
    ],
)
def test_bad_suboptions_name_the_token(value: str, token: str) -> None:
    assert token in usage_error(["-a", value])


def test_attached_option_values() -> None:
    inv = scan_argv(["-tqemu", "-aCREATE=l:x", "-d2"])
    assert inv.plugin_types == ("QEMU",)
    assert inv.action == ActionCall("CREATE", (Suboption("L", ("x",), "l:x"),))
    assert inv.debug == 2


def test_repeated_action_is_an_error() -> None:
    assert "'-a' given twice" in usage_error(["-a", "LIST", "-a", "CREATE"])


def test_unknown_option() -> None:
    assert usage_error(["-q"]) == "unknown option '-q'"
    assert usage_error(["--frobnicate"]) == "unknown option '--frobnicate'"
    assert usage_error(["-hx"]) == "unknown option '-hx'"
    assert usage_error(["-nX"]) == "unknown option '-nX'"  # flags are not bundled


def test_missing_value() -> None:
    assert usage_error(["-a"]) == "option '-a' needs a value"
    assert "got '-d'" in usage_error(["-a", "-d", "1"])


# --- plugin types -------------------------------------------------------------------------


def test_type_list_and_all() -> None:
    assert scan_argv(["-T", "qemu,xen", "-a", "LIST"]).plugin_types == ("QEMU", "XEN")
    assert scan_argv(["-T", "ALL", "-a", "LIST"]).plugin_types == ("ALL",)
    assert scan_argv(["-T", "ALL", "-t", "QEMU", "-a", "LIST"]).plugin_types == ("QEMU",)
    assert "'ALL' must stand alone" in usage_error(["-T", "ALL,QEMU"])
    assert "not among -T" in usage_error(["-T", "XEN", "-t", "QEMU"])
    assert "'Q EMU'" in usage_error(["-t", "Q EMU"])
    assert "''" in usage_error(["-T", "QEMU,"])


# --- generic options ------------------------------------------------------------------------


def test_generic_options_all_together() -> None:
    inv = scan_argv(
        [
            "-a", "LIST",
            "--inventory", "/var/cache/ctys",
            "-C", "REBUILD",
            "-g", "800x600+10+20",
            "-r", "1024x768",
            "-b", "0,2",
            "-z", "nopty",
            "-S", "int,sigtstp,QUIT,15",
            "-d", "3",
            "-l", "admin",
            "-o", "terse,label,UUID",
        ]
    )  # fmt: skip
    assert inv == Invocation(
        plugin_types=(),
        action=ActionCall("LIST"),
        debug=3,
        cache_path="/var/cache/ctys",
        cache_control=CacheControl.REBUILD,
        geometry="800x600+10+20",
        resolution="1024x768",
        background=False,
        parallel=False,
        pty=0,
        signals_ignore=("INT", "TSTP", "QUIT", "15"),
        remote_user="admin",
        output_fields=("LABEL", "UUID"),
        output_format=OutputFormat.TERSE,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("on", True), ("0", False), ("OFF", False), ("async,par", True), ("sync", False)],
)
def test_background(value: str, expected: bool) -> None:
    assert scan_argv(["-b", value]).background is expected


@pytest.mark.parametrize(("value", "expected"), [("pty", 1), ("nopty", 0), ("2", 2)])
def test_pty(value: str, expected: int) -> None:
    assert scan_argv(["-z", value]).pty == expected


@pytest.mark.parametrize(
    ("value", "fmt", "fields"),
    [
        ("json", OutputFormat.JSON, ()),
        ("TABLE", OutputFormat.TABLE, ()),
        ("label,mac", OutputFormat.TABLE, ("LABEL", "MAC")),
        ("LABEL,json", OutputFormat.JSON, ("LABEL",)),
    ],
)
def test_output_spec(value: str, fmt: OutputFormat, fields: tuple[str, ...]) -> None:
    inv = scan_argv(["-o", value])
    assert inv.output_format is fmt
    assert inv.output_fields == fields


@pytest.mark.parametrize(
    ("argv", "token"),
    [
        (["-g", "800"], "'800'"),
        (["-g", "0x600"], "'0x600'"),
        (["-g", "800x600+1"], "'800x600+1'"),
        (["-C", "maybe"], "'maybe'"),
        (["-b", "2"], "'2'"),
        (["-b", "1,later"], "'1,later'"),
        (["-z", "lots"], "'lots'"),
        (["-d", "high"], "'high'"),
        (["-d", "\u00b2"], "'\u00b2'"),
        (["-S", "INT,,QUIT"], "''"),
        (["-S", "SIG"], "'SIG'"),
        (["-S", "INT,FOO"], "'FOO'"),
        (["-S", "999"], "'999'"),
        (["-l", "a b"], "'a b'"),
        (["-o", "json,terse"], "two output formats"),
        (["-o", "LA BEL"], "'LA BEL'"),
        (["-c", ""], "'' for -c"),
        (["-d", "1", "-d", "2"], "'-d' given twice"),
    ],
)
def test_bad_generic_values(argv: list[str], token: str) -> None:
    assert token in usage_error(argv)


def test_help_and_version_flags() -> None:
    assert scan_argv(["-h"]).help_level == 1
    assert scan_argv(["-H"]).help_level == 2
    assert scan_argv(["-H", "-h"]).help_level == 2
    assert scan_argv(["--help"]).help_level == 1
    assert scan_argv(["-V"]).version
    assert scan_argv(["--version"]).version


# --- targets ---------------------------------------------------------------------------------


def test_targets_user_host_and_local_options() -> None:
    inv = scan_argv(["-a", "CREATE=l:vm0", "host1(-a CREATE=l:vm1 -d 2)", "root@host2", "h3"])
    assert inv.targets == (
        Target("host1", None, ("-a", "CREATE=l:vm1", "-d", "2")),
        Target("host2", "root"),
        Target("h3"),
    )


def test_options_may_follow_targets_and_double_dash_ends_them() -> None:
    inv = scan_argv(["host1", "-a", "LIST", "--", "host2"])
    assert inv.action == ActionCall("LIST")
    assert [t.host for t in inv.targets] == ["host1", "host2"]
    assert "'-a'" in usage_error(["-a", "LIST", "--", "-a"])


def test_target_options_are_split_shell_style() -> None:
    target = parse_target("""h("-a" 'CREATE=l:my vm,CONSOLE:CLI'  -d 1)""")
    assert target.options == ("-a", "CREATE=l:my vm,CONSOLE:CLI", "-d", "1")


def test_nested_balanced_parens_in_target_options() -> None:
    assert parse_target("h(-a CREATE=l:vm(1))").options == ("-a", "CREATE=l:vm(1)")


def test_ipv6_target() -> None:
    assert parse_target("admin@[fe80::1%eth0]") == Target("[fe80::1%eth0]", "admin")


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("host(-d 1", "unbalanced parentheses in target 'host(-d 1'"),
        ("host-d 1)", "unbalanced parentheses in target 'host-d 1)'"),
        ("host(-d 1)(x)", "unbalanced parentheses"),
        ("host(-d 1)x", "unbalanced parentheses"),
        ("(-d 1", "unbalanced parentheses in options for all targets '(-d 1'"),
        ("(x)", "non-option 'x' in options of target '(x)'"),
        ("user@", "has no host"),
        ("@host", "bad user '' in target '@host'"),
        ("ho st", "bad host 'ho st'"),
        ("host(-d 'x)", "bad options in target"),
        ("host(-q)", "unknown option '-q'"),
        ("host(-d x)", "bad value 'x' for -d"),
        ("host(-d 1 other)", "non-option 'other'"),
        ("", "target '' has no host"),
        ("-", "bad host '-' in target '-'"),
    ],
)
def test_bad_targets(word: str, message: str) -> None:
    assert message in usage_error(["-a", "LIST", word])


# --- properties ------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    ["-a", "-t", "-T", "-o", "-b", "-z", "-g", "-d", "-h", "-H", "-V", "--", "(", ")", "@",
     "CREATE=", "l:vm1", ",", ":", "%", "\\", "ALL", "json", "0", "x", "'", '"', " ", "=", "-"]
)  # fmt: skip
_WORDS = st.one_of(st.text(max_size=12), st.lists(_PIECES, max_size=6).map("".join))


@given(st.lists(_WORDS, max_size=8))
def test_scan_only_returns_invocation_or_usage_error(argv: list[str]) -> None:
    try:
        result = scan_argv(argv)
    except UsageError as exc:
        assert str(exc)
        assert "\n" not in str(exc) or "\n" in "".join(argv)
    else:
        assert isinstance(result, Invocation)
        assert result.targets


_KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_ARGS = st.lists(st.text(max_size=10), min_size=1, max_size=4)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("%", "\\%")


@given(st.lists(st.tuples(_KEYS, _ARGS), min_size=1, max_size=5))
def test_suboptions_round_trip(items: list[tuple[str, list[str]]]) -> None:
    # Any args, once escaped, come back exactly (except the one form we refuse: 'KEY:').
    items = [(key, args) for key, args in items if args != [""]]
    if not items:
        return
    text = ",".join(f"{key}:{'%'.join(_escape(a) for a in args)}" for key, args in items)
    parsed = parse_suboptions(text)
    assert [(s.key, list(s.args)) for s in parsed] == [(k.upper(), a) for k, a in items]
