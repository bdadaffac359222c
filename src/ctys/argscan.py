"""Scan a ctys command line into a typed ``Invocation`` (SPEC §1).

Syntax::

    ctys [-t TYPE | -T TYPE[,TYPE...]|ALL] -a ACTION[=SUBOPTS] [generic options] [TARGET ...]

``SUBOPTS`` is ``SUBOPT[,SUBOPT...]``, each ``KEY[:ARG[%ARG...]]``. A backslash escapes
``,``, ``%`` and itself inside suboptions (``ARGSADD:-device%e1000\\,netdev=n0``), and
``,,`` is a literal comma as in the original (``KEY:console=ttyS0,,115200``), so
hypervisor and kernel arguments holding commas can be passed through.

Everything here is pure: no I/O, no environment. Every malformed input raises ``UsageError``
whose message names the offending token.

Core utility, not ``ctys.cli``: the ``ctys`` entry point scans argv with it, and so does the
remote side (``ctys.remote.options`` re-scans a target's own options) and a plugin (the
inner target of a VM stack). Imports only ``ctys.errors``, ``ctys.invocation`` and
``ctys.optvalues`` (the generic option values).
"""

from __future__ import annotations

import re
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from ctys.errors import UsageError
from ctys.invocation import (
    ActionCall,
    CacheControl,
    CacheWhere,
    DebugSpec,
    Invocation,
    OutputFormat,
    Suboption,
    Target,
)
from ctys.optvalues import (
    CacheUse,
    parse_ambiguity,
    parse_background,
    parse_cache_use,
    parse_debug,
    parse_geometry_option,
    parse_location,
    parse_pty,
    parse_runtime_cache,
)

__all__ = [
    "AMBIGUITY_WORDS",
    "FLAG_OPTIONS",
    "VALUE_OPTIONS",
    "GroupLookup",
    "TargetWord",
    "check_target_options",
    "escape_suboption_arg",
    "is_host_name",
    "parse_action",
    "parse_output_spec",
    "parse_suboptions",
    "parse_target",
    "scan_argv",
    "split_target",
    "split_words",
]

# ctys' own option naming its SQLite inventory file (kept under this key with the letters).
INVENTORY_OPTION = "--inventory"
INVENTORY_KEY = "inventory"

# Options taking a value (next word, or attached: ``-tTYPE``).
VALUE_OPTIONS = _VALUE_OPTIONS = frozenset("tTacCgrbzSdlopLDFjMsWxZ")
# Flags (no value). -A takes an optional 0|1|on|off.
FLAG_OPTIONS = _FLAGS = frozenset("nXYfPy")
AMBIGUITY_WORDS = _AMBIGUITY_WORDS = frozenset({"0", "1", "on", "off"})

# -D: a display of this host only (as the original: "for localhost only").
_LOCAL_DISPLAY = r"(?:localhost)?:[0-9]+(?:\.[0-9]+)?"

# The original's options that mean nothing for ctys: accepted, with this one line on stderr.
_NOTED = {
    "D": "a display by session label: the viewer uses $DISPLAY",
    "F": "ctys does not force a remote version: every target runs its own ctys",
    "j": "the original's internal job id; ctys has no job scheduler of its own",
    "s": "ctys acts on the caller's own VMs only (no scope over other users)",
    "W": "windows are not moved to a workspace (no wmctrl support)",
    "x": "ctys resolves nested access from the caller only (STAR)",
    "Z": "ctys never calls ksu or sudo: it runs as the calling user",
    "f": "ctys has no minor warnings to override",
    "P": "the default DB directory is the per-user inventory already",
    "y": "terminal colours: ctys prints plain text",
}
_ESCAPABLE = frozenset(",%\\")

_NAME = r"[A-Za-z][A-Za-z0-9_-]*"
_KEY = r"[A-Za-z_][A-Za-z0-9_]*"
# A suboption without ':' may also be a bare label (``GETCLIENTPORT=web-1``): the action
# reads it from ``raw``; every other action refuses it as an unknown suboption.
_BARE_WORD = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
_UINT = r"[0-9]+"
_USER = r"[A-Za-z_][A-Za-z0-9._-]*\$?"
_HOST = r"[A-Za-z0-9_][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?\]"


def _full(pattern: str, text: str) -> re.Match[str] | None:
    # The patterns above are compiled at their first use (re caches them), not at import:
    # a command line uses few of them.
    return re.fullmatch(pattern, text, re.ASCII)


@dataclass
class _RawArgs:
    """First pass: option values as typed, before conversion."""

    values: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    help_level: int = 0
    version: bool = False
    target_words: list[str] = field(default_factory=list)
    # ``-- '(opts)' ...``: the option words for every target, one tuple per ``(...)`` word.
    all_targets_options: list[tuple[str, ...]] = field(default_factory=list)


# The members of the host group a target word names (``None``: no such group, a host): each
# member with its user and option words, unchecked. Injected by the caller (``ctys.groups``
# reads the group files): scanning itself stays free of I/O.
GroupLookup = Callable[[str], "Sequence[Target] | None"]


def scan_argv(argv: Sequence[str], *, groups: GroupLookup | None = None) -> Invocation:
    """Parse ctys arguments (without the program name) into an ``Invocation``.

    ``plugin_types`` is empty when neither ``-t`` nor ``-T`` was given, so the caller can tell
    ``ctys -h`` (general help) from ``ctys -t TYPE -h`` (plugin help); ``ctys.cli.main``
    substitutes the default plugin. ``groups`` expands target words that name a host group.
    Raises ``UsageError`` naming the bad token.
    """
    raw = _collect(argv)
    invocation = _build(raw)
    targets = _targets(raw, groups)
    if not targets:
        raise UsageError(f"no targets: the groups {' '.join(raw.target_words)} have no members")
    if not invocation.allow_ambiguous:
        # The original drops repeated targets of expanded groups silently unless -A.
        targets = tuple(dict.fromkeys(targets))
    return replace(invocation, targets=targets)


def _collect(argv: Sequence[str]) -> _RawArgs:
    raw = _RawArgs()
    words = list(argv)
    index = 0
    options_done = False
    while index < len(words):
        word = words[index]
        index += 1
        if options_done or not word.startswith("-") or word == "-":
            _collect_target_word(raw, word)
            continue
        if word == "--":
            options_done = True
        elif word in ("-h", "--help"):
            raw.help_level = max(raw.help_level, 1)
        elif word == "-H":
            raw.help_level = 2
        elif word in ("-V", "-v", "--version"):
            raw.version = True
        elif word == "-A" or (word.startswith("-A") and word[2:].lower() in _AMBIGUITY_WORDS):
            index = _collect_ambiguity(raw, word, words, index)
        elif len(word) == 2 and word[1] in _FLAGS:
            raw.flags.add(word[1])
        elif word == INVENTORY_OPTION or word.startswith(INVENTORY_OPTION + "="):
            index = _collect_inventory(raw, word, words, index)
        else:
            letter = word[1]
            if word.startswith("--") or letter not in _VALUE_OPTIONS:
                raise UsageError(f"unknown option '{word}'")
            if len(word) > 2:
                value = word[2:]
            else:
                if index >= len(words):
                    raise UsageError(f"option '{word}' needs a value")
                value = words[index]
                index += 1
                # A missing value followed by another option is a typo, not a value.
                if value.startswith("-") and len(value) > 1:
                    raise UsageError(f"option '{word}' needs a value, got '{value}'")
            if letter in raw.values:
                raise UsageError(f"option '-{letter}' given twice")
            raw.values[letter] = value
    return raw


def _collect_target_word(raw: _RawArgs, word: str) -> None:
    """A target, or after ``--`` and before the first target a ``'(opts)'`` for all targets
    (the original's remote-global options; several superpose left to right)."""
    if not word.startswith("("):
        raw.target_words.append(word)
        return
    if raw.target_words:
        raise UsageError(
            f"options '{word}' for all targets must come before the first target "
            "(-- '(opts)' host ...); a target's own options are attached to it: host'(-d 1)'"
        )
    if not _closes_at_end(word[1:]):
        raise UsageError(f"unbalanced parentheses in options for all targets '{word}'")
    raw.all_targets_options.append(check_target_options(word, _shell_words(word, word[1:-1])))


def _collect_ambiguity(raw: _RawArgs, word: str, words: Sequence[str], index: int) -> int:
    """``-A`` alone, or ``-A 0|1|on|off`` / ``-A1`` as in ctys(1)."""
    if len(word) > 2:
        value = word[2:]
    elif index < len(words) and words[index].lower() in _AMBIGUITY_WORDS:
        value = words[index]
        index += 1
    else:
        value = "1"
    if "A" in raw.values:
        raise UsageError("option '-A' given twice")
    raw.values["A"] = value
    return index


def _collect_inventory(raw: _RawArgs, word: str, words: Sequence[str], index: int) -> int:
    """``--inventory PATH`` / ``--inventory=PATH``: ctys' own SQLite inventory file."""
    if "=" in word:
        value = word.split("=", 1)[1]
    elif index < len(words):
        value = words[index]
        index += 1
    else:
        raise UsageError(f"option '{word}' needs a value")
    if INVENTORY_KEY in raw.values:
        raise UsageError(f"option '{INVENTORY_OPTION}' given twice")
    raw.values[INVENTORY_KEY] = value
    return index


def _build(raw: _RawArgs) -> Invocation:
    values = raw.values
    output_format, output_fields = parse_output_spec(values["o"]) if "o" in values else (None, ())
    cache_use = parse_cache_use(values["c"]) if "c" in values else None
    control, cache_note = _cache_control(cache_use, values.get("C"))
    if cache_use is not None and cache_use.only and control is CacheControl.OFF:
        raise UsageError(f"-c {values['c']} uses the inventory alone, but -C off switches it off")
    background, parallel = parse_background(values["b"]) if "b" in values else (None, None)
    debug = parse_debug(values["d"]) if "d" in values else None
    geometry, screen = parse_geometry_option(values["g"]) if "g" in values else (None, ())
    return Invocation(
        plugin_types=_plugin_types(values.get("t"), values.get("T")),
        action=parse_action(values["a"]) if "a" in values else None,
        help_level=raw.help_level,
        debug=debug.level if debug else 0,
        # A bare level is kept as ``debug`` alone, so ``-d 2`` compares equal to before.
        debug_spec=debug if debug is not None and debug != DebugSpec(debug.level) else None,
        cache_path=(
            _non_empty(INVENTORY_OPTION, values[INVENTORY_KEY]) if INVENTORY_KEY in values else None
        ),
        cache_control=control,
        cache_where=cache_use.where if cache_use else CacheWhere.BOTH,
        cache_only=bool(cache_use and cache_use.only),
        db_dir=_non_empty("-p", values["p"]) if "p" in values else None,
        geometry=geometry,
        geometry_screen=screen,
        resolution=_non_empty("-r", values["r"]) if "r" in values else None,
        background=background,
        parallel=parallel,
        pty=parse_pty(values["z"]) if "z" in values else None,
        signals_ignore=_signals(values["S"]) if "S" in values else (),
        remote_user=_user("-l", values["l"]) if "l" in values else None,
        output_fields=output_fields,
        # -X: the original's terse (';'-separated) output, unless -o chooses a format.
        output_format=output_format
        or (OutputFormat.TERSE if "X" in raw.flags else OutputFormat.TABLE),
        version=raw.version,
        dry_run="n" in raw.flags,
        terse="X" in raw.flags,
        allow_ambiguous=parse_ambiguity(values["A"]) if "A" in values else False,
        location=parse_location(values["L"]) if "L" in values else None,
        forward_agent="Y" in raw.flags,
        display=values["D"] if _full(_LOCAL_DISPLAY, values.get("D", "")) else None,
        message=values.get("M"),
        notes=_notes(raw, cache_note),
    )


def _targets(raw: _RawArgs, groups: GroupLookup | None) -> tuple[Target, ...]:
    """The targets of the command line, host groups expanded, each target's options after
    the options for all targets (``-- '(opts)'``): the last value of a letter wins."""
    common = tuple(word for options in raw.all_targets_options for word in options)
    if not raw.target_words:
        return (Target("localhost", None, common),)
    return tuple(
        Target(target.host, target.user, common + target.options)
        for word in raw.target_words
        for target in _expand_target(word, groups)
    )


def _expand_target(word: str, groups: GroupLookup | None) -> Sequence[Target]:
    """``word`` as one target, or the members of the group it names. A member's own user
    wins over ``user@group``; the options of ``group'(opts)'`` come after each member's own
    (the call site is the most specific: its values win)."""
    split = split_target(word)
    members = groups(split.name) if groups is not None else None
    if members is None:
        return (parse_target(word),)
    options = check_target_options(word, split.options)
    return tuple(Target(m.host, m.user or split.user, m.options + options) for m in members)


def _notes(raw: _RawArgs, cache_note: str | None) -> tuple[str, ...]:
    """One line per option accepted without effect, in a fixed order."""
    notes = [cache_note] if cache_note else []
    if raw.values.get("L", "").upper() in ("CLIENTONLY", "CO"):
        notes.append(
            f"-L {raw.values['L']}: accepted: ctys has no client-only mode (the original's"
            " internal COPY phase); it acts as LOCALONLY"
        )
    for letter, why in _NOTED.items():
        if letter == "D" and _full(_LOCAL_DISPLAY, raw.values.get("D", "")):
            continue  # a local display is used, see ``Invocation.display``
        if letter in raw.values:
            notes.append(f"-{letter} {raw.values[letter]}: accepted, no effect: {why}")
        elif letter in raw.flags:
            notes.append(f"-{letter}: accepted, no effect: {why}")
    return tuple(notes)


# --- plugin types ----------------------------------------------------------------------


def _type_name(option: str, text: str) -> str:
    if not _full(_NAME, text):
        raise UsageError(f"bad plugin type '{text}' for {option}")
    return text.upper()


def _plugin_types(single: str | None, several: str | None) -> tuple[str, ...]:
    chosen = _type_name("-t", single) if single is not None else None
    if several is None:
        return (chosen,) if chosen else ()
    names = tuple(_type_name("-T", part) for part in several.split(","))
    if "ALL" in names and len(names) > 1:
        raise UsageError(f"'ALL' must stand alone in -T '{several}'")
    if chosen is None:
        return names
    # -T says which plugins to load, -t which one acts: the acting one must be loaded.
    if names != ("ALL",) and chosen not in names:
        raise UsageError(f"type '{single}' of -t is not among -T '{several}'")
    return (chosen,)


# --- action and suboptions -------------------------------------------------------------


def parse_action(text: str) -> ActionCall:
    """Parse ``NAME[=SUBOPTS]``: the name upper-cased, the suboptions in order."""
    name, sep, subopts = text.partition("=")
    if not _full(_NAME, name):
        raise UsageError(f"bad action name '{name}' in -a '{text}'")
    if sep and not subopts:
        raise UsageError(f"empty suboption list in -a '{text}'")
    return ActionCall(name.upper(), parse_suboptions(subopts) if sep else ())


def parse_suboptions(text: str) -> tuple[Suboption, ...]:
    """Parse ``KEY[:ARG[%ARG...]][,...]``; keys upper-cased, args keep case and spaces."""
    pieces = _split_escaped(text, ",")
    if "" in pieces:
        raise UsageError(f"empty suboption in '{text}'")
    return tuple(_parse_suboption(piece) for piece in pieces)


# A suboption that is an absolute path is the original's bare ID (its conf file's path),
# as in GETCLIENTPORT=<label>|<id> and ISACTIVE=<id>.
BARE_ID_KEY = "ID"


def _parse_suboption(raw: str) -> Suboption:
    if raw.startswith("/"):
        return Suboption(BARE_ID_KEY, (_unescape(raw),), raw)
    key, sep, args_text = raw.partition(":")
    if not key:
        raise UsageError(f"suboption '{raw}' has an empty key")
    if not sep and _full(_BARE_WORD, key):
        return Suboption(key.upper(), (), raw)
    if not _full(_KEY, key):
        raise UsageError(f"bad suboption key '{key}' in '{raw}'")
    if not args_text:
        raise UsageError(f"suboption '{raw}' has ':' but no argument")
    args = tuple(_unescape(part) for part in _split_escaped(args_text, "%"))
    return Suboption(key.upper(), args, raw)


def _split_escaped(text: str, separator: str) -> list[str]:
    """Split at unescaped ``separator``; escapes stay in the pieces for a later pass."""
    pieces: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _ESCAPABLE:
            current.append(text[index : index + 2])
            index += 2
            continue
        if char == separator == "," and text.startswith(",,", index):
            # The original's cliSplitSubOpts: ',,' is one literal comma (_unescape makes it
            # one); kept as typed so messages show the suboption as given.
            current.append(",,")
            index += 2
            continue
        if char == separator:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    pieces.append("".join(current))
    return pieces


def escape_suboption_arg(value: str) -> str:
    """A value made safe inside a suboption (the inverse of the unescaping here):
    ``\\``, ``,`` and ``%`` backslash-escaped."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("%", "\\%")


def _unescape(text: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        if text[index] == "\\" and index + 1 < len(text) and text[index + 1] in _ESCAPABLE:
            out.append(text[index + 1])
            index += 2
        elif text.startswith(",,", index):  # only a literal comma leaves ',,' in a piece
            out.append(",")
            index += 2
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


# --- targets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetWord:
    """A target word split, nothing checked but the parentheses and the user:
    ``[user@]name['(' options ')']``. ``name`` is a host or a host group."""

    name: str
    user: str | None = None
    options: tuple[str, ...] = ()


def split_target(word: str) -> TargetWord:
    """Split ``[user@]name['(' options ')']``; the options split shell-style (quotes work),
    not checked (``check_target_options`` does that). A quote right before ``(`` or after the
    closing ``)`` (``host'(-d 1)'`` as written in a group file) is dropped, as the original
    does."""
    head, paren, rest = word.partition("(")
    options: tuple[str, ...] = ()
    if paren:
        if head.endswith(("'", '"')) and rest.endswith(head[-1]):
            head, rest = head[:-1], rest[:-1]
        if not _closes_at_end(rest):
            raise UsageError(f"unbalanced parentheses in target '{word}'")
        options = _shell_words(word, rest[:-1])
    elif ")" in word:
        raise UsageError(f"unbalanced parentheses in target '{word}'")
    user, at, name = head.rpartition("@")
    if not name:
        raise UsageError(f"target '{word}' has no host")
    if at and not _full(_USER, user):
        raise UsageError(f"bad user '{user}' in target '{word}'")
    return TargetWord(name, user if at else None, options)


def is_host_name(name: str) -> bool:
    """Whether ``name`` is a host ctys may hand to ssh: a host name, an IPv4 address or a
    bracketed IPv6 address; nothing that ssh could read as an option."""
    return bool(_full(_HOST, name))


def parse_target(word: str) -> Target:
    """Parse ``[user@]host['(' target-local options ')']``.

    The parenthesised options are split shell-style and checked with the same rules as the
    global options (they may not name further targets).
    """
    split = split_target(word)
    if not is_host_name(split.name):
        raise UsageError(f"bad host '{split.name}' in target '{word}'")
    return Target(split.name, split.user, check_target_options(word, split.options))


def split_words(text: str, *, commas: bool = False) -> list[str]:
    """Split a list of targets (a group file line, a macro's text) into words: at blanks
    (and with ``commas`` at commas) outside parentheses and quotes. Quotes outside
    parentheses group and are removed; inside parentheses the text stays as written (the
    options are split shell-style later): ``a'(-d 1,2 -b 1)',b`` -> ``a(-d 1,2 -b 1)``, ``b``."""
    words: list[str] = []
    current: list[str] = []
    started = False
    depth = 0
    quote = ""
    for char in text:
        if depth:
            current.append(char)
            depth += {"(": 1, ")": -1}.get(char, 0) if not quote else 0
            quote = _toggle_quote(quote, char)
        elif quote:
            if char == quote:
                quote = ""
            else:
                current.append(char)
        elif char in "'\"":
            quote, started = char, True
        elif char.isspace() or (commas and char == ","):
            if started:
                words.append("".join(current))
            current, started = [], False
        else:
            current.append(char)
            started = True
            depth = 1 if char == "(" else 0
    if quote or depth:
        raise UsageError(f"unbalanced {'quote' if quote else 'parentheses'} in '{text}'")
    if started:
        words.append("".join(current))
    return words


def _toggle_quote(quote: str, char: str) -> str:
    """Track a quote inside parentheses, so a ``)`` in quotes does not close them."""
    if quote:
        return "" if char == quote else quote
    return char if char in "'\"" else ""


def _closes_at_end(rest: str) -> bool:
    """True if ``'(' + rest`` is one balanced group ending at the last character. A
    parenthesis in quotes does not count (``host(-a 'LIST=x)')``); with a quote left open
    they all count, so the shell-style split names the bad quote."""
    return _balanced(rest, quotes=True) or _balanced(rest, quotes=False)


def _balanced(rest: str, *, quotes: bool) -> bool:
    depth = 1
    quote = ""
    for index, char in enumerate(rest):
        if quotes:
            quote, was = _toggle_quote(quote, char), quote
            if quote or was:
                continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return index == len(rest) - 1
    return False


def _shell_words(word: str, inner: str) -> tuple[str, ...]:
    try:
        import shlex  # only for a target with its own options

        return tuple(shlex.split(inner))
    except ValueError as exc:
        raise UsageError(f"bad options in target '{word}': {exc}") from exc


def check_target_options(word: str, options: Sequence[str]) -> tuple[str, ...]:
    """Check a target's option words (from ``word``) with the rules of the global options;
    they may not name further targets. Returns them as a tuple."""
    raw = _collect(options)
    if raw.target_words or raw.all_targets_options:
        bad = raw.target_words[0] if raw.target_words else "--"
        raise UsageError(f"non-option '{bad}' in options of target '{word}'")
    _build(raw)  # validate values now, so a bad remote option fails before any fan-out
    return tuple(options)


# --- generic option values ---------------------------------------------------------------


def _non_empty(option: str, text: str) -> str:
    if not text:
        raise UsageError(f"option '{option}' needs a non-empty value")
    return text


def _cache_control(use: CacheUse | None, control: str | None) -> tuple[CacheControl, str | None]:
    """``-c`` (the original's use of the cacheDB) and ``-C`` (ctys' inventory control, or
    the original's runtime data cache) as one ``CacheControl``: ``-c OFF`` is ``-C off``."""
    chosen, note = parse_runtime_cache(control) if control is not None else (CacheControl.ON, None)
    if use is None or not use.off:
        return chosen, note
    # -C on (the original's runtime cache, ctys' default) goes with -c off, as in the
    # original's group files ('-c off -C on'); rebuilding or listing the inventory does not.
    if chosen not in (CacheControl.OFF, CacheControl.ON):
        raise UsageError(f"-c OFF and -C {control} exclude each other")
    return CacheControl.OFF, note


def _signals(text: str) -> tuple[str, ...]:
    """``-S [(on|off),]<signal>[,<signal>...]``; the leading on|off of ctys(1) is accepted
    (ctys applies the list it is given)."""
    names: list[str] = []
    parts = text.split(",")
    if parts[0].lower() in ("on", "off"):
        parts = parts[1:]
    for part in parts:
        name = part.upper()
        if name.startswith("SIG") and len(name) > 3:
            name = name[3:]
        if f"SIG{name}" not in signal.Signals.__members__ and not _is_signal_number(name):
            raise UsageError(f"bad signal '{part}' in -S '{text}'")
        names.append(name)
    return tuple(names)


def _is_signal_number(text: str) -> bool:
    return bool(_full(_UINT, text)) and int(text) in {s.value for s in signal.Signals}


def _user(option: str, text: str) -> str:
    if not _full(_USER, text):
        raise UsageError(f"bad user '{text}' for {option}")
    return text


def parse_output_spec(text: str) -> tuple[OutputFormat | None, tuple[str, ...]]:
    """Parse ``-o``: comma list of field names plus at most one format word.

    ``table``, ``terse`` and ``json`` (any case) select the format; every other item is a field
    name, upper-cased (``-o terse,label,uuid`` -> TERSE with fields LABEL, UUID).
    """
    formats = {f.value: f for f in OutputFormat}
    chosen: OutputFormat | None = None
    fields: list[str] = []
    for part in text.split(","):
        lowered = part.lower()
        if lowered in formats:
            if chosen is not None:
                raise UsageError(f"two output formats in -o '{text}'")
            chosen = formats[lowered]
        elif _full(_KEY, part):
            fields.append(part.upper())
        else:
            raise UsageError(f"bad output field '{part}' in -o '{text}'")
    return chosen, tuple(fields)
