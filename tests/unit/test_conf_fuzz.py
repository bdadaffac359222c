"""Property tests for the conf-file parser: it returns a RawConf or raises ConfError, nothing
else, for any text; quoting round-trips; and where it accepts a text, bash agrees."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ctys.conf.parser import parse_conf_text
from ctys.conf.rawconf import RawConf
from ctys.errors import ConfError

CONF = Path("/vms/fuzz/fuzz.conf")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_NAME = re.compile(r"[A-Z_][A-Z0-9_-]*")

# Pieces of real and broken conf syntax; random joins of them reach the scanner's corners.
FRAGMENTS = [
    "A", "B", "VM_1", "=", "export ", " ", "\t", "\n", "\r\n", "#", "#@#", "#@#LABEL", "=",
    " = ", "MAGICID-QEMU", "'", '"', "\\", "\\\n", "$", "$A", "${", "}", "${A}", "${A:-",
    ":-", ":+", "-", "+", "${#", "$(", "$((", ")", "(", "`", ";", "|", "&", ">", "<", "x",
    "1", "/path/to", "if ", "fi", "f()", "{", "rm -rf /", "é", "\x00", "\x0b", "\u2028",
    "$'", '$"', "$1", "$$", "%", "[", "]", "+=", "~", "*",
]  # fmt: skip

conf_like_text = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)


def check_outcome(text: str) -> RawConf | ConfError:
    """Parse; any exception other than ConfError fails the test (hypothesis reports it)."""
    try:
        raw = parse_conf_text(text, CONF)
    except ConfError as err:
        assert err.path == str(CONF)
        assert 1 <= err.line <= text.count("\n") + 1
        message = str(err)
        assert message.startswith(f"{CONF}:{err.line}: ")
        assert "\n" not in message
        return err
    assert raw.path == CONF
    assert all(_VAR_NAME.fullmatch(name) for name in raw.variables)
    assert all(_KEY_NAME.fullmatch(name) for name in raw.keys)
    assert all(name.startswith("MAGICID-") for name in raw.magic)
    return raw


@settings(max_examples=500)
@given(st.text())
def test_any_text_gives_rawconf_or_conferror(text: str) -> None:
    check_outcome(text)


@settings(max_examples=1500)
@given(conf_like_text)
def test_conf_like_text_gives_rawconf_or_conferror(text: str) -> None:
    check_outcome(text)


@settings(max_examples=300)
@given(conf_like_text)
def test_parsing_is_deterministic(text: str) -> None:
    first, second = check_outcome(text), check_outcome(text)
    if isinstance(first, ConfError):
        assert isinstance(second, ConfError) and str(first) == str(second)
    else:
        assert first == second


def single_quote(value: str) -> str:
    """How a shell user writes an arbitrary string literally."""
    return "'" + value.replace("'", "'\\''") + "'"


def double_quote(value: str) -> str:
    return '"' + re.sub(r'([\\$`"])', r"\\\1", value) + '"'


# Control characters (but tab and newline) are refused anywhere: see the test below.
CONTROL = "".join(map(chr, [*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]))
values = st.text(st.characters(blacklist_characters=CONTROL))


@given(values)
def test_single_quoted_values_round_trip(value: str) -> None:
    assert parse_conf_text(f"A={single_quote(value)}", CONF).variables == {"A": value}


@given(values)
def test_double_quoted_values_round_trip(value: str) -> None:
    assert parse_conf_text(f"A={double_quote(value)}", CONF).variables == {"A": value}


@given(st.text(st.characters(blacklist_characters=CONTROL + "\n")))
def test_quoted_ctys_key_values_round_trip(value: str) -> None:
    raw = parse_conf_text(f"#@#LABEL = {single_quote(value)}\n", CONF)
    assert raw.keys == {"LABEL": value}


@given(values, st.sampled_from(CONTROL[1:]), values, st.sampled_from(["A=", "#@#LABEL = ", "# "]))
def test_control_characters_are_refused_with_their_line(
    before: str, control: str, after: str, prefix: str
) -> None:
    text = f"X=1\n{prefix}{single_quote(before + control + after)}\n"
    with pytest.raises(ConfError) as info:
        parse_conf_text(text, CONF)
    assert info.value.line == 2 + (before + control).count("\n")
    assert f"U+{ord(control):04X}" in str(info.value)


# -- differential: bash must agree on every text we accept ----------------------------

# PWD and RANDOM: bash presets them (PWD may be assigned, RANDOM may not); "_" is special.
NAMES = ["A", "B", "VM_1", "PWD", "RANDOM", "_"]
# No unquoted '~': bash expands it to $HOME, the parser leaves it (vmconfig expands paths).
SAFE_CHARS = st.text(st.sampled_from("abc XYZ/.-_:,=%@+{}"), max_size=4)
DQ_CHARS = st.text(st.sampled_from("ab '(|)&;<>#\t"), max_size=4)
name = st.sampled_from(NAMES)
unquoted_piece = st.one_of(
    st.text(st.sampled_from("abc/.-_:,=%@+#{}"), min_size=1, max_size=4),
    st.just("'~'"),
    name.map(lambda n: f"${n}"),
    name.map(lambda n: f"${{{n}}}"),
    st.sampled_from(["\\ ", "\\$", "\\'", '\\"', "\\\\", "\\\n", "$"]),
    # bash's special parameters and shell-set names: the parser must refuse or agree.
    st.sampled_from(["$_", "${_}", "$_A", "$1", "$$", "$!", "$?", "$#", "$@", "$*", "$-"]),
    st.sampled_from(["$0", "${#A}", "$LINENO", "$SECONDS", "$HOSTNAME", "$PPID", "$UID"]),
    SAFE_CHARS.map(single_quote),
    st.tuples(name, st.sampled_from([":-", "-", ":+", "+"]), SAFE_CHARS).map(
        lambda t: f"${{{t[0]}{t[1]}{t[2]}}}"
    ),
)
dq_piece = st.one_of(
    DQ_CHARS,
    name.map(lambda n: f"${n}"),
    st.sampled_from(["\\$", '\\"', "\\\\", "\\n", "\\\n", "$ ", "'"]),
    st.sampled_from(["$_", "${_}", "$_B", "$$", "$1", "$PWD", "${RANDOM}", "${_:-x}"]),
    st.tuples(name, st.sampled_from([":-", ":+"]), DQ_CHARS).map(
        lambda t: f"${{{t[0]}{t[1]}{t[2]}}}"
    ),
)
value = st.one_of(
    st.lists(unquoted_piece, max_size=4).map("".join),
    st.lists(dq_piece, max_size=4).map(lambda parts: '"' + "".join(parts) + '"'),
)
assignment = st.tuples(st.sampled_from(["", "export "]), name, value).map(
    lambda t: f"{t[0]}{t[1]}={t[2]}"
)
separator = st.sampled_from(["\n", " ", "; ", " # note\n", "\n\n"])
assignment_text = st.lists(st.tuples(assignment, separator), min_size=1, max_size=6).map(
    lambda items: "".join(a + s for a, s in items)
)


BASH = shutil.which("bash")


@pytest.mark.skipif(BASH is None, reason="bash not installed")
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=assignment_text)
@example(text="A=\nA=\nexport A=\nA=$_\n")  # bash: A='A=' (the last word of 'export')
@example(text="PWD=x\nA=$PWD\n")
def test_accepted_assignments_match_bash(text: str, tmp_path: Path) -> None:
    try:
        raw = parse_conf_text(text, CONF)
    except ConfError:
        return  # refused texts are never handed to bash
    conf = tmp_path / "t.conf"
    conf.write_text(text)
    printer = "".join(f'printf "%s\\0" "${n}";' for n in raw.variables)
    # No PATH: even a parser bug could not make bash find and run a program.
    result = subprocess.run(
        [str(BASH), "--norc", "--noprofile", "-c", f'. "$1"; {printer}', "bash", str(conf)],
        capture_output=True,
        text=True,
        env={"PATH": "/nonexistent"},
        cwd=tmp_path,
        timeout=10,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\0")[:-1] == list(raw.variables.values())
