"""Parse a VM conf file — shell-style assignments plus ``#@#KEY = value`` ctys keys.

The original ctys *sourced* these files in a shell; we read them as data. A small
hand-written scanner walks the text once, left to right, so that ``$VAR`` expands to
what was assigned *before* it (exactly like a shell would), and anything a shell would
execute — commands, ``$(...)``, backticks, control flow, functions — is refused with a
``ConfError`` naming file and line. Nothing is ever executed and nothing outside the
text (environment, filesystem) influences the result. ``docs/conf-format.md`` is the
user-facing description of the format.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from ctys.conf.rawconf import RawConf
from ctys.errors import ConfError

MAX_CONF_BYTES = 1024 * 1024
"""Conf files are a few hundred bytes; anything above this is not a conf file."""

MAGIC_PREFIX = "MAGICID-"
WRAPPER_PATH = "CTYSWRAPPERPATH"
"""Preset to the conf's folder (as the original's wrapper does) while a conf is parsed."""

_BLANKS = " \t"
_NAME_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
_KEY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# Unquoted, these would make a shell pipe, redirect, background or open a subshell.
_OPERATORS = frozenset("|&<>()")
# Runs of characters with no meaning in an unquoted word / inside double quotes.
_PLAIN_UNQUOTED = re.compile(r"[^ \t\n;\\'\"$`|&<>()]+")
# (stops at ' < > too: inside "${VAR:-...}" those are checked one by one)
_PLAIN_DOUBLE_QUOTED = re.compile(r"[^\"\\$`}'<>]+")
_SPECIAL_PARAMS = frozenset("0123456789@*#?$!-")
# Names bash itself gives a value that no file can pin down: '_' (the last argument of the
# previous command), counters, clocks, ids. Refused both as '$NAME' and as 'NAME=': a parser
# cannot know their value, and bash ignores or refuses assignments to several of them.
# fmt: off
_SHELL_DYNAMIC = frozenset([
    "_", "BASHOPTS", "BASHPID", "BASH_ALIASES", "BASH_ARGC", "BASH_ARGV", "BASH_ARGV0",
    "BASH_CMDS", "BASH_COMMAND", "BASH_EXECUTION_STRING", "BASH_LINENO", "BASH_SOURCE",
    "BASH_SUBSHELL", "BASH_VERSINFO", "DIRSTACK", "EPOCHREALTIME", "EPOCHSECONDS", "EUID",
    "FUNCNAME", "GROUPS", "HISTCMD", "LINENO", "PPID", "RANDOM", "SECONDS", "SHELLOPTS",
    "SRANDOM", "UID",
])
# Names bash presets from the host (PWD, HOSTNAME, ...): '$NAME' is refused unless the file
# assigned NAME earlier, because bash would expand the host's value where we expand "".
_SHELL_PRESET = frozenset([
    "BASH", "BASH_LOADABLES_PATH", "BASH_VERSION", "COMP_WORDBREAKS", "HOSTNAME", "HOSTTYPE",
    "IFS", "MACHTYPE", "OLDPWD", "OPTERR", "OPTIND", "OSTYPE", "PATH", "PS4", "PWD", "SHELL",
    "SHLVL", "TERM",
])
# fmt: on
# C0 controls except tab and newline, DEL, C1: shown on a terminal they are commands to it
# (ESC ] 0 ; title BEL, CSI ...), so a conf file (data, shown by LIST) may not hold them.
CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# First words of shell statements that are code, not data (named in the error message).
_SHELL_KEYWORDS = (
    "if then else elif fi for while until do done case esac select in time ! [[ ]] { }"
)
_SHELL_WORDS = frozenset(_SHELL_KEYWORDS.split())
# ${NAME<op>word} forms we support; longest first so ':-' wins over '-'.
_BRACE_OPS = (":-", ":+", "-", "+")
_SHOWN_TEXT = 40

# Fast path: a whole line that is one simple statement is taken with one regex match
# instead of the character scanner (ENUMERATE parses thousands of files). The patterns
# admit only text the scanner reads literally, plus $NAME and ${NAME}; anything else — a
# backslash, a lone '$', an operator, a second statement — goes to the scanner, so both
# paths give the same result (tests/unit/test_conf_fastpath.py compares them).
_SIMPLE_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_SIMPLE_EXPANSION = rf"\$(?:{_SIMPLE_NAME}|\{{{_SIMPLE_NAME}\}})"
_LINE_END = r"[ \t]*(?=\n|\Z)"
# One line of any of the simple kinds; which group matched says which kind it is.
_FAST_LINE = re.compile(
    r"(\n)"  # 1: end of a blank line
    rf"|#@#([A-Za-z_][A-Za-z0-9_-]*)[ \t]*"  # 2: ctys key (or marker) ...
    rf"(?:=[ \t]*((?:[^\n\\'\"$`#]|{_SIMPLE_EXPANSION})*?))?{_LINE_END}"  # 3: its value
    r"|(#)(?!@#)[^\n]*"  # 4: ordinary comment
    rf"|({_SIMPLE_NAME})="  # 5: assignment, value 6 unquoted, 7 "quoted", 8 'quoted'
    rf"(?:((?:[^ \t\n;\\'\"$`|&<>()]|{_SIMPLE_EXPANSION})*)"
    rf"|\"((?:[^\"\\$`\n]|{_SIMPLE_EXPANSION})*)\""
    rf"|'([^'\n]*)'){_LINE_END}"
)
_EXPANSION = re.compile(rf"\$(?:({_SIMPLE_NAME})|\{{({_SIMPLE_NAME})\}})")


def _shell_owned(value: str, variables: Mapping[str, str]) -> bool:
    """Whether a fast-path value expands a name bash sets (the scanner then refuses it)."""
    for match in _EXPANSION.finditer(value):
        name = match.group(1) or match.group(2)
        if name in _SHELL_DYNAMIC or (name in _SHELL_PRESET and name not in variables):
            return True
    return False


def _expand(value: str, variables: Mapping[str, str]) -> str:
    """``$NAME`` / ``${NAME}`` in a fast-path value (unset names expand to "")."""
    if "$" not in value:
        return value
    return _EXPANSION.sub(lambda m: variables.get(m.group(1) or m.group(2), ""), value)


@dataclass(frozen=True)
class SourceLines:
    """Line (1-based) where each variable of a RawConf was last assigned, and each ctys key
    first (the occurrence that counts).

    Kept beside ``RawConf`` (whose fields are fixed) so later checks — a bad number in
    ``#@#VCPU`` — can point at the line that holds it.
    """

    variables: Mapping[str, int]
    keys: Mapping[str, int]


def parse_conf_text(text: str, path: Path) -> RawConf:
    """Parse conf-file ``text`` (read from ``path``, used only for messages and the result).

    Raises ``ConfError(path, line, message)`` for anything that is not an assignment,
    a comment, a ctys key or a blank line, and for forbidden constructs.
    """
    return parse_conf_text_with_lines(text, path)[0]


def parse_conf_text_with_lines(text: str, path: Path) -> tuple[RawConf, SourceLines]:
    """Like ``parse_conf_text`` but also returns where each name was assigned."""
    return _parse(text, path, fast=True)


def _parse(text: str, path: Path, *, fast: bool) -> tuple[RawConf, SourceLines]:
    """The parser; ``fast=False`` disables the one-regex path for simple lines (tests
    compare both)."""
    # The original's wrapper sets CTYSWRAPPERPATH to the VM's folder before it sources the
    # conf (HDDBOOTIMAGE="${CTYSWRAPPERPATH}/hda.img"): the one name preset here.
    folder = str(path.absolute().parent)
    scanner = _Scanner(
        text.replace("\r\n", "\n"), str(path), line=1, variables={WRAPPER_PATH: folder}
    )
    scanner.fast = fast
    scanner.parse_file()
    variables = dict(scanner.variables)
    if WRAPPER_PATH not in scanner.variable_lines:
        del variables[WRAPPER_PATH]  # preset, not assigned by the file
    raw = RawConf(
        path=path,
        variables=MappingProxyType(variables),
        keys=MappingProxyType(dict(scanner.keys)),
        magic=frozenset(scanner.magic),
    )
    lines = SourceLines(
        variables=MappingProxyType(dict(scanner.variable_lines)),
        keys=MappingProxyType(dict(scanner.key_lines)),
    )
    return raw, lines


def read_conf(path: Path) -> RawConf:
    """Read and parse the conf file at ``path``; every failure is a ``ConfError``."""
    return read_conf_with_lines(path)[0]


def read_conf_with_lines(path: Path) -> tuple[RawConf, SourceLines]:
    """Like ``read_conf`` but also returns where each name was assigned."""
    return parse_conf_text_with_lines(read_conf_text(path), path)


def read_conf_text(path: Path) -> str:
    """Read ``path`` as UTF-8 text, refusing non-regular, binary, undecodable or huge files."""
    where = str(path)
    try:
        info = path.stat()
    except OSError as err:
        raise ConfError(where, 0, f"cannot read conf file: {err.strerror or err}") from err
    if not stat.S_ISREG(info.st_mode):
        raise ConfError(where, 0, "not a regular file")
    return decode_conf_bytes(read_conf_bytes(path, info.st_size), where)


def read_conf_bytes(path: Path | str, size: int) -> bytes:
    """The bytes of the regular file ``path`` that ``stat`` said has ``size`` bytes (a scan
    has that stat already): one open and (mostly) one read. ``ConfError`` if it cannot be
    read or holds more than ``MAX_CONF_BYTES``."""
    where = str(path)
    try:
        # O_NONBLOCK: a FIFO put in its place after the stat must not block the scan.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as err:
        raise ConfError(where, 0, f"cannot read conf file: {err.strerror or err}") from err
    try:
        # One byte past what stat() said: catches files that grew after it. (Not
        # read(MAX + 1) right away: that allocates a megabyte for every small file.)
        want = min(size, MAX_CONF_BYTES) + 1
        data = os.read(fd, want)
        while len(data) == want <= MAX_CONF_BYTES:  # it grew: read on to EOF or the limit
            more = os.read(fd, MAX_CONF_BYTES + 1 - len(data))
            data += more
            want = len(data) if more else -1
    except OSError as err:
        raise ConfError(where, 0, f"cannot read conf file: {err.strerror or err}") from err
    finally:
        os.close(fd)
    if len(data) > MAX_CONF_BYTES:
        raise ConfError(where, 0, f"larger than {MAX_CONF_BYTES} bytes, not a conf file")
    return data


def check_conf_bytes(data: bytes, where: str) -> None:
    """``ConfError`` (file:line) unless ``data`` is text a conf may hold: no NUL byte,
    UTF-8. Runs at C speed over the bytes (a scan checks files it does not parse)."""
    if data.isascii():
        _refuse_nul(data, where)
    else:
        decode_conf_bytes(data, where)


def decode_conf_bytes(data: bytes, where: str) -> str:
    """``data`` as conf text (a leading BOM dropped); ``ConfError`` as ``check_conf_bytes``."""
    _refuse_nul(data, where)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        bad = data[err.start]
        raise ConfError(where, line, f"not UTF-8 text (byte 0x{bad:02x})") from err
    return text.removeprefix("\ufeff")


def _refuse_nul(data: bytes, where: str) -> None:
    nul = data.find(b"\0")
    if nul >= 0:
        raise ConfError(where, data.count(b"\n", 0, nul) + 1, "binary content (NUL byte)")


class _Scanner:
    """One left-to-right pass over conf text. ``pos`` indexes ``text``; ``line`` tracks it.

    The same class scans a whole file and, on a fresh instance over one line's tail, the
    value of a ctys key — both share the ``variables`` dict so expansion sees the same names.
    """

    def __init__(self, text: str, path: str, line: int, variables: dict[str, str]) -> None:
        self.text = text
        self.path = path
        self.pos = 0
        self.line = line
        self.variables = variables
        self.variable_lines: dict[str, int] = {}
        self.keys: dict[str, str] = {}
        self.key_lines: dict[str, int] = {}
        self.magic: set[str] = set()
        self.fast = False

    # -- low level ------------------------------------------------------------------

    def error(self, message: str, line: int | None = None) -> ConfError:
        return ConfError(self.path, self.line if line is None else line, message)

    def peek(self, ahead: int = 0) -> str:
        """The character ``ahead`` places on, or "" at end of text.

        Backslash-newline pairs are invisible here, as in a shell, which drops them before
        it even splits words (``$A\\<newline>B`` is ``$AB``). ``pos`` is first moved past
        any such pair, so code that then reads ``text`` directly starts at a real char.
        Callers reading single quotes, comments and escapes go to ``text`` directly,
        because there the pairs are not continuations.
        """
        self.skip_continuations()
        index = self.pos
        for _ in range(ahead):
            index += 1
            while self.text.startswith("\\\n", index):
                index += 2
        return self.text[index] if index < len(self.text) else ""

    def skip_continuations(self) -> None:
        while self.text.startswith("\\\n", self.pos):
            self.pos += 2
            self.line += 1

    def advance(self, count: int = 1) -> None:
        """Consume ``count`` characters as ``peek`` sees them (skipping continuations)."""
        for _ in range(count):
            self.skip_continuations()
            self.consume_raw(1)

    def consume_raw(self, count: int) -> None:
        """Consume ``count`` characters of ``text`` exactly (for escapes and quotes)."""
        end = min(self.pos + count, len(self.text))
        self.line += self.text.count("\n", self.pos, end)
        self.pos = end

    def at_end(self) -> bool:
        return self.peek() == ""

    def skip_blanks(self) -> None:
        while self.peek() and self.peek() in _BLANKS:
            self.advance()

    def scan_name(self) -> str:
        chars: list[str] = []
        if self.peek() and self.peek() in _NAME_START:
            while self.peek() and self.peek() in _NAME_CHARS:
                chars.append(self.peek())
                self.advance()
        return "".join(chars)

    def take_run(self, plain: re.Pattern[str]) -> str:
        """Consume the run of ``plain`` chars at ``pos`` (at least the current char): one
        slice instead of a call per character. Runs hold no backslash, so no continuation."""
        self.skip_continuations()
        match = plain.match(self.text, self.pos)
        end = match.end() if match and match.end() > self.pos else self.pos + 1
        run = self.text[self.pos : end]
        self.consume_raw(end - self.pos)
        return run

    def starts_with(self, token: str) -> bool:
        return all(self.peek(i) == char for i, char in enumerate(token))

    def rest_of_line(self) -> str:
        end = self.text.find("\n", self.pos)
        return self.text[self.pos : len(self.text) if end < 0 else end]

    def skip_to_line_end(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end

    # -- statements -----------------------------------------------------------------

    def parse_file(self) -> None:
        nul = self.text.find("\0")
        if nul >= 0:
            raise self.error("binary content (NUL byte)", self.text.count("\n", 0, nul) + 1)
        control = CONTROL_CHARACTER.search(self.text)
        if control is not None:
            line = self.text.count("\n", 0, control.start()) + 1
            code = ord(control.group())
            raise self.error(
                f"control character U+{code:04X} is not allowed (conf files are text; "
                "on a terminal it would be a command)",
                line,
            )
        while True:
            if self.fast:
                self.parse_simple_lines()
            if self.at_end():
                return
            self.parse_statement()

    def parse_statement(self) -> None:
        self.skip_blanks()
        char = self.peek()
        if char == "":
            return
        if char == "\n":
            self.advance()
        elif char == "#":
            self.parse_comment()
        elif char == ";":
            raise self.error("unexpected ';' (empty statement)")
        else:
            self.parse_assignments()

    def parse_simple_lines(self) -> None:
        """Take simple lines at ``pos`` — blank, comment, ``NAME=value``, ``#@#KEY =
        value`` — one regex match each, up to the first line that needs the scanner."""
        text, pos, line = self.text, self.pos, self.line
        variables, keys, key_lines = self.variables, self.keys, self.key_lines
        match_line = _FAST_LINE.match
        while (match := match_line(text, pos)) is not None:
            kind = match.lastindex
            if kind == 1:
                line += 1
            elif kind == 2 or kind == 3:
                name = match.group(2).upper()
                if name.startswith(MAGIC_PREFIX):
                    self.magic.add(name)
                else:
                    text_value = match.group(3) or ""
                    if _shell_owned(text_value, variables):
                        break  # the scanner names the problem
                    if name not in keys:  # the original's rule: the first occurrence wins
                        keys[name] = _expand(text_value, variables)
                        key_lines[name] = line
            elif kind != 4:
                single = match.group(8)
                name = match.group(5)
                if single is None:
                    text_value = match.group(6) or match.group(7) or ""
                    if name in _SHELL_DYNAMIC or _shell_owned(text_value, variables):
                        break  # the scanner names the problem
                    value = _expand(text_value, variables)
                elif name in _SHELL_DYNAMIC:
                    break
                else:
                    value = single
                variables[name] = value
                self.variable_lines[name] = line
            pos = match.end()
        self.pos, self.line = pos, line

    def parse_comment(self) -> None:
        if self.text.startswith("#@#", self.pos):
            line = self.line
            self.advance(3)
            self.parse_ctys_key(self.rest_of_line(), line)
        self.skip_to_line_end()

    def parse_ctys_key(self, rest: str, line: int) -> None:
        match = _KEY_NAME.match(rest)
        if match is None:
            return  # '#@#' followed by prose or decoration: an ordinary comment
        name = match.group().upper()
        after = rest[match.end() :].lstrip(_BLANKS)
        if name.startswith(MAGIC_PREFIX):
            # A marker: whatever follows it carries no meaning.
            self.magic.add(name)
            return
        if not after:
            value = ""
        elif after.startswith("="):
            value = _Scanner(after[1:].strip(_BLANKS), self.path, line, self.variables).key_value()
        else:
            raise self.error(f"ctys key '{name}' needs '=' before its value", line)
        if name not in self.keys:  # the original's rule: the first occurrence wins
            self.keys[name] = value
            self.key_lines[name] = line

    def parse_assignments(self) -> None:
        """``[export] NAME=word [NAME=word ...]`` up to a newline, ';' or comment."""
        exported = self.at_export()
        if exported:
            self.advance(len("export"))
            self.skip_blanks()
            if self.at_statement_end():
                raise self.error("'export' needs NAME=value")
        deferred: list[tuple[str, str, int]] = []
        while True:
            self.skip_blanks()
            if self.at_statement_end():
                break
            start, line = self.pos, self.line
            name = self.scan_name()
            if name and self.peek() == "=":
                self.advance()
                value = self.read_word()
                if exported:
                    # 'export' is a command: bash expands all its words, then assigns.
                    deferred.append((name, value, line))
                else:
                    # Plain assignments take effect left to right: 'A=1 B=$A' sets B=1.
                    self.assign(name, value, line)
            elif name and exported and self.at_word_end():
                continue  # 'export NAME': marks an existing variable, nothing to store
            else:
                self.pos = start
                raise self.error(self.describe_non_assignment(name), line)
        for name, value, line in deferred:
            self.assign(name, value, line)
        if self.peek() == ";":
            self.advance()
        elif self.peek() == "#":
            self.skip_to_line_end()

    def assign(self, name: str, value: str, line: int) -> None:
        if name in _SHELL_DYNAMIC:
            what = "a special shell parameter" if name == "_" else "set by the shell"
            raise self.error(f"'{name}' is {what} and cannot be assigned in a conf file", line)
        self.variables[name] = value
        self.variable_lines[name] = line

    def at_export(self) -> bool:
        after = self.peek(len("export"))
        return self.starts_with("export") and after in ("", "\n", " ", "\t")

    def at_statement_end(self) -> bool:
        char = self.peek()
        return char in ("", "\n", ";", "#")

    def at_word_end(self) -> bool:
        char = self.peek()
        return char in ("", "\n", ";") or char in _BLANKS

    def describe_non_assignment(self, name: str) -> str:
        """Why the text at ``pos`` (not NAME=...) is refused, as specific as we can be."""
        rest = self.rest_of_line()
        word = rest.split(maxsplit=1)[0] if rest.strip() else rest
        shown = rest.strip()
        if len(shown) > _SHOWN_TEXT:
            shown = shown[: _SHOWN_TEXT - 3] + "..."
        tail = rest[len(name) :].lstrip(_BLANKS)
        if rest.startswith("$(") or rest.startswith("`"):
            return "command substitution is not allowed (conf files are data, not code)"
        if name == "function" or (name and tail.startswith("(")):
            return f"function definitions are not allowed: '{shown}'"
        if name and tail.startswith("+="):
            return f"append assignment '{name}+=' is not supported"
        if name and tail.startswith("["):
            return f"array assignment '{name}[...]' is not supported"
        if word in ("source", "."):
            return f"including other files ('{word}') is not allowed: '{shown}'"
        if word in _SHELL_WORDS:
            return f"shell '{word}' statements are not allowed (conf files are data): '{shown}'"
        if rest.startswith("("):
            return f"subshells are not allowed: '{shown}'"
        return (
            f"not an assignment, comment or blank line: '{shown}' "
            "(a shell would run it as a command; conf files are data)"
        )

    # -- words ----------------------------------------------------------------------

    def read_word(self) -> str:
        """The value of ``NAME=``: unquoted text, quotes and expansions up to a blank."""
        parts: list[str] = []
        while True:
            char = self.peek()
            if char == "" or char in _BLANKS or char in "\n;":
                return "".join(parts)
            if char == "\\":
                parts.append(self.read_backslash())
            elif char == "'":
                parts.append(self.read_single_quoted())
            elif char == '"':
                parts.append(self.read_double_quoted())
            elif char == "$":
                parts.append(self.read_dollar(in_double_quotes=False))
            elif char == "`":
                raise self.backtick_error()
            elif char in _OPERATORS:
                if char == "(" and self.text[self.pos - 1] == "=":
                    raise self.error("array assignment 'NAME=(...)' is not supported")
                raise self.error(f"unquoted '{char}' is a shell operator; quote the value")
            else:
                parts.append(self.take_run(_PLAIN_UNQUOTED))

    def key_value(self) -> str:
        """A ctys key's value: the rest of its line, quotes and ``$VAR`` as in an
        assignment, but blanks are kept and a `` #`` after a blank starts a comment."""
        parts: list[str] = []
        while not self.at_end():
            char = self.peek()
            if char in _BLANKS:
                start = self.pos
                while self.peek() and self.peek() in _BLANKS:
                    self.advance()
                if self.at_end() or self.peek() == "#":
                    break
                parts.append(self.text[start : self.pos])
            elif char == "\\":
                parts.append(self.read_backslash())
            elif char == "'":
                parts.append(self.read_single_quoted())
            elif char == '"':
                parts.append(self.read_double_quoted())
            elif char == "$":
                parts.append(self.read_dollar(in_double_quotes=False))
            elif char == "`":
                raise self.backtick_error()
            else:
                parts.append(char)
                self.advance()
        return "".join(parts)

    def read_backslash(self) -> str:
        """Unquoted backslash: the next character, literally (a continuation never gets
        here: ``peek`` already skipped it)."""
        following = self.text[self.pos + 1 : self.pos + 2]
        self.consume_raw(2)
        return following or "\\"

    def read_single_quoted(self) -> str:
        line = self.line
        end = self.text.find("'", self.pos + 1)
        if end < 0:
            raise self.error("unterminated single quote", line)
        value = self.text[self.pos + 1 : end]
        self.consume_raw(end + 1 - self.pos)
        return value

    def read_double_quoted(self) -> str:
        line = self.line
        self.advance()
        parts: list[str] = []
        while True:
            char = self.peek()
            if char == "":
                raise self.error("unterminated double quote", line)
            if char == '"':
                self.advance()
                return "".join(parts)
            parts.append(self.read_double_quoted_char(terminators='"'))

    def read_double_quoted_char(self, terminators: str) -> str:
        """One piece of double-quoted text: a char, an escape or an expansion."""
        char = self.peek()
        if char == "\\":
            following = self.text[self.pos + 1 : self.pos + 2]
            # Inside double quotes a backslash only escapes these; elsewhere it stays.
            if following and following in '$`"\\' + terminators:
                self.consume_raw(2)
                return following
            self.consume_raw(1)
            return "\\"
        if char == "$":
            return self.read_dollar(in_double_quotes=True)
        if char == "`":
            raise self.backtick_error()
        if char in terminators:
            self.advance()
            return char
        return self.take_run(_PLAIN_DOUBLE_QUOTED)

    # -- expansions -----------------------------------------------------------------

    def backtick_error(self) -> ConfError:
        return self.error("command substitution with backticks is not allowed")

    def read_dollar(self, *, in_double_quotes: bool) -> str:
        following = self.peek(1)
        if following == "(":
            kind = "arithmetic expansion '$((...))'" if self.peek(2) == "(" else "'$(...)'"
            raise self.error(f"command substitution {kind} is not allowed")
        if following == "{":
            return self.read_braced(in_double_quotes=in_double_quotes)
        if following and following in _NAME_START:
            self.advance()
            return self.expand_name(self.scan_name())
        if following and following in _SPECIAL_PARAMS:
            raise self.error(f"special parameter '${following}' is not supported")
        if following and following in "'\"" and not in_double_quotes:
            raise self.error(f"'${following}...{following}' quoting is not supported")
        self.advance()
        return "$"  # a lone '$' is literal, as in a shell

    def expand_name(self, name: str) -> str:
        self.check_expandable(name)
        return self.variables.get(name, "")

    def check_expandable(self, name: str) -> None:
        """Refuse ``$NAME`` when bash, not the file, would decide its value."""
        if name == "_":
            raise self.error("special parameter '$_' is not supported")
        if name in _SHELL_DYNAMIC or (name in _SHELL_PRESET and name not in self.variables):
            raise self.error(
                f"'${name}' is set by the shell, not by this file (conf files are data)"
            )

    def read_braced(self, *, in_double_quotes: bool) -> str:
        line = self.line
        self.advance(2)
        name = self.scan_name()
        if not name:
            if self.at_end():
                raise self.error("unterminated '${'", line)
            char = self.peek()
            if char in _SPECIAL_PARAMS:
                raise self.error(f"parameter expansion '${{{char}...' is not supported")
            raise self.error("bad substitution: '${' must be followed by a variable name")
        self.check_expandable(name)
        if self.peek() == "}":
            self.advance()
            return self.variables.get(name, "")
        for op in _BRACE_OPS:
            if self.starts_with(op):
                self.advance(len(op))
                word = self.read_brace_word(line, in_double_quotes=in_double_quotes)
                return _apply_brace_op(op, self.variables.get(name), word)
        if self.at_end():
            raise self.error("unterminated '${'", line)
        raise self.error(
            f"unsupported parameter expansion '${{{name}{self.peek()}...}}' "
            "(only ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:+alt}, ${VAR+alt})"
        )

    def read_brace_word(self, line: int, *, in_double_quotes: bool) -> str:
        """The word of ``${VAR:-word}`` up to the closing brace (blanks are part of it)."""
        parts: list[str] = []
        while True:
            char = self.peek()
            if char == "":
                raise self.error("unterminated '${'", line)
            if char == "}":
                self.advance()
                return "".join(parts)
            if char in "<>" and self.peek(1) == "(":
                # bash parses these as process substitution even here (and even in "...").
                raise self.error(f"process substitution '{char}(...)' is not allowed")
            if char == '"':
                parts.append(self.read_double_quoted())
            elif in_double_quotes:
                if char == "'":
                    # bash keeps them, yet pairs them up and expands inside: too murky to copy.
                    raise self.error('single quotes inside "${VAR:-...}" are not supported')
                parts.append(self.read_double_quoted_char(terminators="}"))
            elif char == "'":
                parts.append(self.read_single_quoted())
            elif char == "\\":
                parts.append(self.read_backslash())
            elif char == "$":
                parts.append(self.read_dollar(in_double_quotes=False))
            elif char == "`":
                raise self.backtick_error()
            else:
                parts.append(char)
                self.advance()


def _apply_brace_op(op: str, value: str | None, word: str) -> str:
    """``${VAR<op>word}``: ':' variants treat an empty value like an unset one."""
    present = bool(value) if op.startswith(":") else value is not None
    if op.endswith("-"):
        return value if present and value is not None else word
    return word if present else ""
