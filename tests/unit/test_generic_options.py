"""The original's generic option values (ctys(1) "Generic Options"; issue 13, point 5):
``-c``, ``-C``, ``-b``, ``-d``, ``-g``, ``-z``, ``-A``, ``-L`` and the flags, parsed, written
back for a target and read again unchanged."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctys.argscan import scan_argv
from ctys.cli.main import main
from ctys.errors import UsageError
from ctys.invocation import (
    CacheControl,
    CacheWhere,
    DebugSpec,
    Invocation,
    Location,
    OutputFormat,
)
from ctys.optvalues import (
    CacheUse,
    debug_text,
    parse_ambiguity,
    parse_background,
    parse_bash_int,
    parse_cache_use,
    parse_debug,
    parse_geometry_option,
    parse_location,
    parse_pty,
    parse_runtime_cache,
)
from ctys.remote.options import invocation_options, options_argv, target_option_values


def _round_trip(inv: Invocation) -> Invocation:
    return scan_argv(options_argv(invocation_options(inv), remote=False))


# --- -c -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "use"),
    [
        ("OFF", CacheUse(off=True)),
        ("on", CacheUse(off=False)),
        ("ON,BOTH", CacheUse(off=False)),
        ("ON,LOCAL", CacheUse(False, CacheWhere.LOCAL)),
        ("local", CacheUse(False, CacheWhere.LOCAL)),  # the shipped group line's bare form
        ("remote", CacheUse(False, CacheWhere.REMOTE)),
        ("ON,REMOTE,ONLY", CacheUse(False, CacheWhere.REMOTE, only=True)),
        ("only", CacheUse(False, CacheWhere.BOTH, only=True)),
        ("ONLY,local", CacheUse(False, CacheWhere.LOCAL, only=True)),
    ],
)
def test_c_forms(text: str, use: CacheUse) -> None:
    assert parse_cache_use(text) == use


_C_WORDS = st.lists(
    st.sampled_from(["ON", "on", "On"]), max_size=2
)  # ON may be repeated: it is implied anyway


@given(
    on=_C_WORDS,
    where=st.sampled_from([None, "BOTH", "LOCAL", "REMOTE", "local", "Remote"]),
    only=st.sampled_from([None, "ONLY", "only"]),
    order=st.randoms(use_true_random=False),
)
def test_c_word_order_and_case_do_not_matter(on, where, only, order) -> None:
    words = [*on, *([where] if where else []), *([only] if only else [])]
    if not words:
        words = ["ON"]
    order.shuffle(words)
    use = parse_cache_use(",".join(words))
    assert use.off is False
    assert use.where is (CacheWhere[where.upper()] if where else CacheWhere.BOTH)
    assert use.only is bool(only)


@pytest.mark.parametrize("text", ["", "OFF,ONLY", "ON,LOCAL,REMOTE", "maybe", "/x/inv", "ON,"])
def test_bad_c_values_name_the_value(text: str) -> None:
    with pytest.raises(UsageError, match=re.escape(f"bad value '{text}' for -c")):
        parse_cache_use(text)


def test_c_on_the_command_line_and_back() -> None:
    inv = scan_argv(["-a", "LIST", "-c", "local,only"])
    assert (inv.cache_where, inv.cache_only, inv.cache_control) == (
        CacheWhere.LOCAL,
        True,
        CacheControl.ON,
    )
    assert _round_trip(inv) == inv
    # The original's group files combine -c off with -C on (two different caches there).
    assert scan_argv(["-a", "LIST", "-c", "off", "-C", "on"]).cache_control is CacheControl.OFF


# --- -C -----------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["on", "OFF", "rebuild", "Clear", "LIST"])
def test_C_keeps_ctys_inventory_words(word: str) -> None:
    assert parse_runtime_cache(word) == (CacheControl(word.lower()), None)


@pytest.mark.parametrize(
    "text", ["ON,KEEP", "ON,ONLY,LIFETIME:20", "ON,FIN:/tmp/c,RAW", "KEEPALL", "ON,AUTO,FOUT:x"]
)
def test_C_runtime_cache_forms_are_accepted_with_a_note(text: str) -> None:
    control, note = parse_runtime_cache(text)
    assert control is CacheControl.ON
    assert note is not None and note.startswith(f"-C {text}: ctys keeps no runtime data cache")
    inv = scan_argv(["-a", "LIST", "-C", text])
    assert inv.notes == (note,)


@pytest.mark.parametrize("text", ["maybe", "ON,LIFETIME:soon", "ON,FIN:", "ON,KEEP:1", "ON,,"])
def test_bad_C_values(text: str) -> None:
    with pytest.raises(UsageError, match="-C"):
        parse_runtime_cache(text)


# --- -b -----------------------------------------------------------------------------------

_SYNC = ["sync", "off", "0", "SYNC", "Off"]
_ASYNC = ["async", "on", "1", "ASYNC"]
_SEQ = ["sequential", "seq", "2", "SEQ"]
_PAR = ["parallel", "par", "3", "PAR"]


@given(
    first=st.sampled_from([(w, False) for w in _SYNC] + [(w, True) for w in _ASYNC]),
    second=st.sampled_from([("", None)] + [(w, False) for w in _SEQ] + [(w, True) for w in _PAR]),
)
def test_b_every_form(first: tuple[str, bool], second: tuple[str, bool | None]) -> None:
    text = first[0] + ("," + second[0] if second[0] else "")
    assert parse_background(text) == (first[1], second[1])
    inv = scan_argv(["-a", "LIST", "-b", text])
    assert _round_trip(inv) == inv


def test_b_examples_of_the_issue() -> None:
    assert parse_background("1,2") == (True, False)  # async, one target after another
    assert parse_background("async,par") == (True, True)
    assert parse_background("1,3") == (True, True)
    assert parse_background("stack") == (False, False)  # the original forces SYNC,SEQ


@pytest.mark.parametrize("text", ["2", "3", "", "1,", "1,4", "1,async", "stack,par", "later"])
def test_bad_b_values(text: str) -> None:
    with pytest.raises(UsageError, match=re.escape(f"bad value '{text}' for -b")):
        parse_background(text)


# --- -d -----------------------------------------------------------------------------------


@given(st.integers(0, 2**32 - 1), st.integers(2, 36))
def test_bash_integers_in_any_base(value: int, base: int) -> None:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text, rest = "", value
    while True:
        text = digits[rest % base] + text
        rest //= base
        if not rest:
            break
    assert parse_bash_int(f"{base}#{text}", "-d") == value
    assert parse_bash_int(f"{base}#{text.upper()}", "-d") == value
    assert parse_bash_int(str(value), "-d") == value
    assert parse_bash_int(hex(value), "-d") == value
    assert parse_bash_int("0" + oct(value)[2:], "-d") == value


@given(st.integers(2**32, 2**40))
def test_bash_integers_beyond_32_bits_are_refused(value: int) -> None:
    with pytest.raises(UsageError, match="32-bit"):
        parse_bash_int(str(value), "-d")


@pytest.mark.parametrize("text", ["", "high", "2#102", "37#1", "1#1", "0x", "09", "\u00b2", "-1"])
def test_bad_bash_integers(text: str) -> None:
    with pytest.raises(UsageError, match=re.escape(f"bad value '{text}' for -d")):
        parse_bash_int(text, "-d")


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("2,w:0,s:16,p", DebugSpec(2, "PATTERN", subsystems=16, warning=0)),
        ("2,s:16:w:0,p", DebugSpec(2, "PATTERN", subsystems=16, warning=0)),  # vdbgen's form
        ("64,P", DebugSpec(64, "PATTERN")),
        ("2#1010,MIN,INFO:3", DebugSpec(10, "MIN", info=3)),
        ("16#10,SUBSYSTEM:2#100000000", DebugSpec(16, subsystems=256)),
        ("1,F:a.sh%b.sh,EXCLUDE,PFIN", DebugSpec(1, files=("a.sh", "b.sh"), files_mode="EXCLUDE",
                                                 printfinal=0)),
        ("1,PRINTFINAL:2,WARNING:9,max", DebugSpec(1, warning=9, printfinal=2)),
    ],
)  # fmt: skip
def test_debug_forms_of_the_original(text: str, spec: DebugSpec) -> None:
    assert parse_debug(text) == spec
    inv = scan_argv(["-a", "LIST", "-d", text])
    assert inv.debug == spec.level
    assert _round_trip(inv) == inv


def test_a_bare_debug_level_stays_a_level() -> None:
    inv = scan_argv(["-a", "LIST", "-d", "3"])
    assert (inv.debug, inv.debug_spec) == (3, None)
    assert scan_argv(["-a", "LIST", "-d", "0x10"]).debug == 16


_SPECS = st.builds(
    DebugSpec,
    level=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(["MAX", "MIN", "PATTERN"]),
    subsystems=st.none() | st.integers(0, 2**32 - 1),
    warning=st.none() | st.integers(0, 9),
    info=st.none() | st.integers(0, 9),
    files=st.lists(st.from_regex(r"[a-z][a-z0-9_./]{0,8}", fullmatch=True), max_size=3).map(tuple),
    files_mode=st.sampled_from(["INCLUDE", "EXCLUDE"]),
    printfinal=st.none() | st.integers(0, 9),
)


@given(_SPECS)
def test_debug_text_reads_back_equal(spec: DebugSpec) -> None:
    assert parse_debug(debug_text(spec)) == spec


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("2,w:10", "'10'"),
        ("2,w:a", "'a'"),
        ("2,x:1", "'x:1'"),
        ("2,s:", "'s:'"),
        ("2,s:zz", "'zz'"),
        ("2,s:16:w", "'s:16:w'"),
        ("2,,p", "''"),
        ("high,p", "'high'"),
    ],
)
def test_bad_debug_items_name_the_token(text: str, token: str) -> None:
    with pytest.raises(UsageError, match=re.escape(token)):
        scan_argv(["-d", text])


# --- -g -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "geometry", "screen"),
    [
        ("800x600", "800x600", ()),
        ("800x600+10-20", "800x600+10-20", ()),
        ("800x600:Screen4", "800x600", ("Screen4",)),
        ("1268x992:A11:ALL", "1268x992", ("A11", "ALL")),
        ("800x600:4:Layout[0,1]:$HOME/myScreenLayout", "800x600", ("4", "Layout[0,1]",
                                                                   "$HOME/myScreenLayout")),
    ],
)  # fmt: skip
def test_geometry_forms(text: str, geometry: str, screen: tuple[str, ...]) -> None:
    assert parse_geometry_option(text) == (geometry, screen)
    inv = scan_argv(["-a", "LIST", "-g", text])
    assert (inv.geometry, inv.geometry_screen) == (geometry, screen)
    assert _round_trip(inv) == inv


@given(
    st.integers(1, 9999),
    st.integers(1, 9999),
    st.lists(st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True), max_size=3),
)
def test_geometry_with_any_screen_words(width: int, height: int, words: list[str]) -> None:
    text = ":".join([f"{width}x{height}", *words])
    assert parse_geometry_option(text) == (f"{width}x{height}", tuple(words))


@pytest.mark.parametrize(
    "text", ["800", "0x600", "800x600+1", "800x600:", "800x600::L", "8x6:a:b:c:d", "8x6:a b"]
)
def test_bad_geometry(text: str) -> None:
    with pytest.raises(UsageError, match=re.escape(f"bad geometry '{text}' for -g")):
        parse_geometry_option(text)


# --- -z, -A, -L ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count"),
    [("NOPTY", 0), ("nopty", 0), ("PTY", 1), ("pty", 1), ("PTY,PTY", 2), ("pty,Pty", 2),
     ("1", 1), ("2", 2), ("0", 0)],
)  # fmt: skip
def test_z_forms(text: str, count: int) -> None:
    assert parse_pty(text) == count


@pytest.mark.parametrize("text", ["", "lots", "PTY,PTY,PTY", "PTY,", "NOPTY,PTY", "\u0662"])
def test_bad_z(text: str) -> None:
    with pytest.raises(UsageError, match=re.escape(f"bad value '{text}' for -z")):
        parse_pty(text)


@pytest.mark.parametrize(("text", "on"), [("1", True), ("ON", True), ("0", False), ("off", False)])
def test_a_values(text: str, on: bool) -> None:
    assert parse_ambiguity(text) is on


def test_a_as_flag_or_with_its_value() -> None:
    assert scan_argv(["-A", "-a", "LIST"]).allow_ambiguous is True
    assert scan_argv(["-A", "1", "-a", "LIST"]).allow_ambiguous is True
    assert scan_argv(["-A", "off", "-a", "LIST"]).allow_ambiguous is False
    assert scan_argv(["-A0", "-a", "LIST"]).allow_ambiguous is False
    # A word that is not 0|1|on|off after -A is a target, not its value.
    inv = scan_argv(["-a", "LIST", "-A", "host1"])
    assert inv.allow_ambiguous is True and [t.host for t in inv.targets] == ["host1"]
    with pytest.raises(UsageError, match="'-A' given twice"):
        scan_argv(["-A", "-A"])


_LOCATION_WORDS = {
    Location.LOCALONLY: ["LOCALONLY", "LO", "lo"],
    Location.CONNECTIONFORWARDING: ["CONNECTIONFORWARDING", "CF", "cf"],
    Location.DISPLAYFORWARDING: ["DISPLAYFORWARDING", "DF"],
    Location.CLIENTONLY: ["CLIENTONLY", "CO"],
    Location.SERVERONLY: ["SERVERONLY", "SO", "ServerOnly"],
}


@given(st.sampled_from([(w, loc) for loc, ws in _LOCATION_WORDS.items() for w in ws]))
def test_l_every_name(item: tuple[str, Location]) -> None:
    word, location = item
    assert parse_location(word) is location
    inv = scan_argv(["-a", "CREATE=l:x", "-L", word])
    assert inv.location is location
    sent = None if location is Location.CLIENTONLY else location  # CO: the note stays here
    assert _round_trip(inv) == replace(inv, notes=(), location=sent)


def test_l_clientonly_gets_its_note() -> None:
    (note,) = scan_argv(["-a", "LIST", "-L", "co"]).notes
    assert note.startswith("-L co: accepted: ctys has no client-only mode")
    assert scan_argv(["-a", "LIST", "-L", "SO"]).notes == ()


def test_bad_l_lists_the_choices() -> None:
    with pytest.raises(UsageError, match="bad value 'XF' for -L: expected LOCALONLY"):
        parse_location("XF")


# --- flags, notes, -V -X ----------------------------------------------------------------------


def test_flags() -> None:
    inv = scan_argv(["-a", "LIST", "-n", "-X", "-Y"])
    assert (inv.dry_run, inv.terse, inv.forward_agent) == (True, True, True)
    assert _round_trip(inv) == inv
    plain = scan_argv(["-a", "LIST"])
    assert (plain.dry_run, plain.terse, plain.forward_agent, plain.notes) == (
        False,
        False,
        False,
        (),
    )


@pytest.mark.parametrize(
    ("argv", "note"),
    [
        (["-D", "myvnc"], "-D myvnc: accepted, no effect: a display by session label"),
        (["-F", "01_11_011"], "-F 01_11_011: accepted, no effect"),
        (["-j", "x:1"], "-j x:1: accepted, no effect"),
        (["-s", "USER"], "-s USER: accepted, no effect"),
        (["-W", "3"], "-W 3: accepted, no effect: windows are not moved to a workspace"),
        (["-x", "CHAIN"], "-x CHAIN: accepted, no effect"),
        (["-Z", "SUDO"], "-Z SUDO: accepted, no effect: ctys never calls ksu or sudo"),
        (["-f"], "-f: accepted, no effect"),
        (["-P"], "-P: accepted, no effect"),
        (["-y"], "-y: accepted, no effect"),
    ],
)
def test_options_without_effect_get_one_note_and_are_not_sent_on(
    argv: list[str], note: str
) -> None:
    inv = scan_argv(["-a", "LIST", *argv])
    assert len(inv.notes) == 1 and inv.notes[0].startswith(note), inv.notes
    assert replace(inv, notes=()) == scan_argv(["-a", "LIST"])
    assert options_argv(invocation_options(inv)) == ["-a", "LIST"]


def test_x_alone_chooses_the_terse_format_and_o_still_wins() -> None:
    assert scan_argv(["-a", "LIST", "-X"]).output_format is OutputFormat.TERSE
    assert scan_argv(["-a", "LIST", "-X", "-o", "json"]).output_format is OutputFormat.JSON
    inv = scan_argv(["-a", "LIST", "-X", "-o", "LABEL"])
    assert (inv.output_format, inv.output_fields, inv.terse) == (
        OutputFormat.TERSE,
        ("LABEL",),
        True,
    )
    assert _round_trip(inv) == inv


@pytest.mark.parametrize("word", [":0", ":1.2", "localhost:10.0"])
def test_d_takes_a_local_display(word: str) -> None:
    inv = scan_argv(["-a", "LIST", "-D", word])
    assert inv.display == word and inv.notes == ()
    assert "-D" not in options_argv(invocation_options(inv))  # for this host only


def test_d_sets_display_for_the_viewers_here(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from ctys.cli import main as main_module

    seen: list[str | None] = []
    monkeypatch.setattr(
        main_module, "_run_plugin", lambda *a: seen.append(os.environ.get("DISPLAY")) or 0
    )
    monkeypatch.delenv("DISPLAY", raising=False)
    assert main(["-t", "QEMU", "-a", "LIST", "-D", ":7"]) == 0
    assert seen == [":7"]
    assert main(["-t", "QEMU", "-a", "LIST", "-D", ":7", "-L", "SO"]) == 0  # headless wins
    assert seen[-1] is None


def test_m_is_printed_before_the_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-M", "== lab ==", "-V"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "== lab ==" and out[1].startswith("ctys ")


def test_a_note_is_one_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-W", "2", "-V"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "ctys: -W 2: accepted, no effect: windows are not moved to a workspace (no wmctrl support)"
    ]


def test_version_terse_is_the_number_alone_without_newline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ctys import __version__

    assert main(["-V", "-X"]) == 0
    assert capsys.readouterr().out == __version__
    assert main(["-v"]) == 0
    assert capsys.readouterr().out == f"ctys {__version__}\n"


def test_signals_take_the_leading_on_off_of_the_original() -> None:
    assert scan_argv(["-S", "on,1,3,19"]).signals_ignore == ("1", "3", "19")
    assert scan_argv(["-S", "OFF,INT"]).signals_ignore == ("INT",)


# --- target options --------------------------------------------------------------------------


def test_target_options_with_flags_and_new_values() -> None:
    inv = scan_argv(["-a", "LIST", "h1(-X -A -d 2,w:0,s:16,p -b sync,par -c off -C on)"])
    values = target_option_values(inv.targets[0].options)
    assert values == {"X": "", "A": "1", "d": "2,w:0,s:16,p", "b": "sync,par", "c": "off",
                      "C": "on"}  # fmt: skip
    assert target_option_values(["-A", "0", "-n"]) == {"A": "0", "n": ""}


def test_the_shipped_group_line_options_scan() -> None:
    inv = scan_argv(["-a", "create=l:LAB02,reuse", "-c", "local", "-g", "1268x992:A11:ALL",
                     "-b", "1,2"])  # fmt: skip
    assert inv.cache_where is CacheWhere.LOCAL
    assert (inv.geometry, inv.geometry_screen) == ("1268x992", ("A11", "ALL"))
    assert (inv.background, inv.parallel) == (True, False)
