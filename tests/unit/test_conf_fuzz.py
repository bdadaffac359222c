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
from ctys.errors import ConfError, CtysError
from ctys.plugins.qemu.confs.mapping import vm_config_from_raw
from ctys.plugins.qemu.newconf.writer import ConfAnswers, original_key_safe, render_conf
from ctys.plugins.qemu.vmconfig import Accelerator

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


# -- the original's rules: any conf ctys writes reads back equal -------------------------


def original_key(text: str, key: str) -> str | None:
    """A reference reader of one ``#@#KEY``, built from COMPAT §2 and the original's
    ``getConfValueOf``: single quotes read as double quotes, each backslash-``t`` dropped,
    ``#@#KEY *= *"*`` then the value up to the next ``"``; the first occurrence wins."""
    pattern = re.compile(rf'^ *#@#{re.escape(key)} *= *"*([^"]*)"*.*$')
    for line in text.replace("'", '"').split("\n"):
        match = pattern.match(line.replace("\\t", ""))
        if match:
            return match.group(1).strip()
    return None


def original_field(key: str, value: str) -> str:
    """What the original's ENUMERATE makes of a key's value (DIST/OS: blanks → '_')."""
    return "_".join(value.split()) if key in ("DIST", "DISTREL", "OS", "OSREL") else value


ONE_LINE = st.text(
    alphabet=st.characters(
        blacklist_categories=["Cs", "Cc"], blacklist_characters="\u2028\u2029\x85"
    ),
    max_size=12,
)
WORD = st.text(st.sampled_from("abcXYZ019-_."), min_size=1, max_size=8)
# Paths: a leading '~user' names a home folder (mapping expands it), not what is tested here.
PATH_TEXT = ONE_LINE.filter(lambda v: not v.startswith("~"))


@st.composite
def conf_answers(draw: st.DrawFn) -> ConfAnswers:
    mac = draw(st.sampled_from(["52:54:00:12:34:56", "00:50:56:00:00:0a"]))
    return ConfAnswers(
        label=draw(WORD),
        uuid=str(draw(st.uuids())),
        mac=mac,
        accelerator=draw(st.sampled_from(list(Accelerator))),
        memsize_mb=draw(st.integers(1, 65536)),
        vcpu=draw(st.integers(1, 64)),
        hdd=draw(st.none() | PATH_TEXT),
        hdd_size=draw(st.none() | st.sampled_from(["8G", "512M"])),
        cdrom=draw(st.none() | PATH_TEXT),
        kernel=draw(st.none() | PATH_TEXT),
        initrd=draw(st.none() | PATH_TEXT),
        append=draw(st.none() | ONE_LINE),
        os=draw(st.none() | ONE_LINE),
        dist=draw(st.none() | ONE_LINE),
        ip=draw(st.none() | st.sampled_from(["10.0.2.15", "10.0.2.15,10.0.3.15%255.0.0.0"])),
    )


@settings(max_examples=300, deadline=None)
@given(conf_answers())
def test_written_keys_read_back_equal_by_the_original_rules(answers: ConfAnswers) -> None:
    try:
        text = render_conf(answers)
    except CtysError as err:
        # Only values the original could not read back are refused (quotes, backslashes,
        # blanks at the ends of a key's value).
        assert "read back by the original" in str(err)
        assert not all(original_key_safe(v) for v in (answers.os, answers.dist) if v)
        return
    raw = parse_conf_text(text, CONF)
    written = [line[3:].split("=", 1)[0].strip() for line in text.splitlines()]
    keys = [name for name in written if name and not name.startswith("MAGICID-")]
    keys = [name for name in keys if f"#@#{name}" in text]
    assert keys and set(keys) == set(raw.keys)
    for key in keys:
        assert original_key(text, key) == raw.keys[key], key
    vm = vm_config_from_raw(raw)
    assert (vm.label, vm.uuid, vm.mac) == (answers.label, answers.uuid, answers.mac)
    for key, ours in (("OS", vm.os), ("DIST", vm.dist)):
        theirs = original_key(text, key)
        assert ours == (None if theirs is None else original_field(key, theirs))
    ip = original_key(text, "IP0")
    assert vm.ip == (ip.split("%")[0].split(",")[0] if ip else None)


@pytest.mark.skipif(BASH is None, reason="bash not installed")
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(answers=conf_answers())
def test_written_variables_match_bash_sourcing_them(answers: ConfAnswers, tmp_path: Path) -> None:
    try:
        text = render_conf(answers)
    except CtysError:
        return  # refused above
    conf = tmp_path / "vm" / "vm.conf"
    conf.parent.mkdir(exist_ok=True)
    conf.write_text(text)
    raw = parse_conf_text(text, conf)
    names = list(raw.variables)
    printer = "".join(f'printf "%s\\0" "${n}";' for n in names)
    result = subprocess.run(
        [str(BASH), "--norc", "--noprofile", "-c", f'. "$1"; {printer}', "bash", str(conf)],
        capture_output=True,
        text=True,
        env={"PATH": "/nonexistent", "CTYSWRAPPERPATH": str(conf.parent)},
        cwd=tmp_path,
        timeout=10,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\0")[:-1] == [raw.variables[n] for n in names]


@pytest.mark.skipif(BASH is None, reason="bash not installed")
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tail=st.text(st.sampled_from("abc/._-"), max_size=6))
def test_ctyswrapperpath_expands_to_the_folder_as_the_wrapper_sets_it(
    tail: str, tmp_path: Path
) -> None:
    conf = tmp_path / "vm" / "vm.ctys"
    conf.parent.mkdir(exist_ok=True)
    text = f'HDDBOOTIMAGE="${{CTYSWRAPPERPATH}}/{tail}"\nHDA=$CTYSWRAPPERPATH/{tail}\n'
    conf.write_text(text)
    raw = parse_conf_text(text, conf)
    script = '. "$1"; printf "%s\\0%s" "$HDDBOOTIMAGE" "$HDA"'
    result = subprocess.run(
        [str(BASH), "--norc", "--noprofile", "-c", script, "bash", str(conf)],
        capture_output=True, text=True, timeout=10,
        env={"PATH": "/nonexistent", "CTYSWRAPPERPATH": str(conf.parent)},
    )  # fmt: skip
    assert result.stdout.split("\0") == [raw.variables["HDDBOOTIMAGE"], raw.variables["HDA"]]
    assert "CTYSWRAPPERPATH" not in raw.variables


def test_the_first_occurrence_of_a_key_wins() -> None:
    text = "#@#MAGICID-QEMU\n#@#LABEL = a\n#@#UUID = u1\n#@#MAGICID-QEMU\n#@#LABEL = b\n"
    raw = parse_conf_text(text, CONF)
    assert raw.keys["LABEL"] == "a" == original_key(text, "LABEL")
    assert raw.variables == {}
