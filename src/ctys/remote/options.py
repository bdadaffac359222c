"""The ctys options a target runs with: the global ones, with the target's own
``'(' ... ')'`` options replacing the same letters (SPEC §1).

An ``Invocation`` is turned back into option words here (the remote side parses them again),
so the remote ctys sees exactly what the local one understood.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from ctys.argscan import (
    AMBIGUITY_WORDS,
    FLAG_OPTIONS,
    INVENTORY_KEY,
    INVENTORY_OPTION,
    escape_suboption_arg,
)
from ctys.errors import UsageError
from ctys.invocation import (
    ActionCall,
    CacheControl,
    CacheWhere,
    Invocation,
    Location,
    OutputFormat,
    Target,
)
from ctys.optvalues import debug_text

__all__ = [
    "action_word",
    "escape_suboption_arg",
    "invocation_options",
    "merged_options",
    "options_argv",
    "target_invocation",
    "target_option_values",
]

# Letters in the order they are written back; -l, -z and -Y are used by the ssh layer and
# mean nothing to the remote ctys, which runs on no targets of its own. Flags (-n, -X, -Y)
# are kept with an empty value.
_ORDER = "tTacCpgrbSdoALnX"
_LOCAL_ONLY = frozenset("lzY")


def action_word(call: ActionCall) -> str:
    """``NAME[=SUBOPTS]`` as typed (each suboption's ``raw`` keeps its escapes)."""
    if not call.suboptions:
        return call.name
    return f"{call.name}={','.join(s.raw for s in call.suboptions)}"


def invocation_options(inv: Invocation) -> dict[str, str]:
    """The option letters and values that reproduce ``inv`` (targets left out)."""
    values: dict[str, str] = {}
    types = inv.plugin_types
    if len(types) == 1 and types[0] != "ALL":
        values["t"] = types[0]
    elif types:
        values["T"] = ",".join(types)
    if inv.action is not None:
        values["a"] = action_word(inv.action)
    if inv.cache_path is not None:
        values[INVENTORY_KEY] = inv.cache_path
    if inv.db_dir is not None:
        values["p"] = inv.db_dir
    if inv.cache_control is not CacheControl.ON:
        values["C"] = inv.cache_control.value
    if inv.cache_where is not CacheWhere.BOTH or inv.cache_only:
        values["c"] = ",".join(["ON", inv.cache_where.value] + ["ONLY"] * inv.cache_only)
    if inv.geometry is not None:
        values["g"] = ":".join((inv.geometry, *inv.geometry_screen))
    if inv.resolution is not None:
        values["r"] = inv.resolution
    if inv.background is not None or inv.parallel is not None:
        mode = {None: "", True: ",par", False: ",seq"}[inv.parallel]
        values["b"] = ("1" if inv.background else "0") + mode
    if inv.pty is not None:
        values["z"] = str(inv.pty)
    if inv.signals_ignore:
        values["S"] = ",".join(inv.signals_ignore)
    if inv.debug_spec is not None:
        values["d"] = debug_text(inv.debug_spec)
    elif inv.debug:
        values["d"] = str(inv.debug)
    if inv.allow_ambiguous:
        values["A"] = "1"
    if inv.location not in (None, Location.CLIENTONLY):  # CO acts as LO: its note is here
        values["L"] = inv.location.value
    for letter, on in (("n", inv.dry_run), ("X", inv.terse), ("Y", inv.forward_agent)):
        if on:
            values[letter] = ""
    if inv.remote_user is not None:
        values["l"] = inv.remote_user
    output = [*inv.output_fields]
    if inv.output_format is not OutputFormat.TABLE:
        output.append(inv.output_format.value)
    if output:
        values["o"] = ",".join(output)
    return values


def target_option_values(options: Sequence[str]) -> dict[str, str]:
    """A target's ``(...)`` words (already checked by ``argscan.parse_target``) as letter →
    value: ``-X VALUE`` or ``-XVALUE``."""
    values: dict[str, str] = {}
    index = 0
    while index < len(options):
        word = options[index]
        index += 1
        if len(word) < 2 or not word.startswith("-") or word.startswith("--"):
            raise UsageError(f"'{word}' is not an option a target can have")
        letter = word[1]
        if letter in "hHVv":
            raise UsageError(f"option '{word}' makes no sense in target options")
        if letter in FLAG_OPTIONS and len(word) == 2:
            values[letter] = ""
        elif letter == "A" and len(word) == 2:
            has_word = index < len(options) and options[index].lower() in AMBIGUITY_WORDS
            values[letter] = options[index] if has_word else "1"
            index += has_word
        elif len(word) > 2:
            values[letter] = word[2:]
        elif index < len(options):
            values[letter] = options[index]
            index += 1
        else:
            raise UsageError(f"option '{word}' needs a value")
    return values


def merged_options(inv: Invocation, target: Target) -> dict[str, str]:
    """The global options with the target's own replacing the same letters."""
    values = invocation_options(inv)
    own = target_option_values(target.options)
    # -t and -T both choose plugins: the target's choice replaces the global one entirely.
    for letter, other in (("t", "T"), ("T", "t")):
        if letter in own and other not in own:
            values.pop(other, None)
    values.update(own)
    return values


def options_argv(values: Mapping[str, str], *, remote: bool = True) -> list[str]:
    """Option words in a fixed order; with ``remote`` the ssh-only ones (-l, -z, -Y)
    dropped."""
    argv: list[str] = []
    for letter in _ORDER + "lzY":
        if letter in values and not (remote and letter in _LOCAL_ONLY):
            value = values[letter]
            if letter in FLAG_OPTIONS:
                argv.append(f"-{letter}")
            # A value that looks like an option is attached, so it is never taken for one.
            elif value.startswith("-"):
                argv.append(f"-{letter}{value}")
            else:
                argv += [f"-{letter}", value]
    if INVENTORY_KEY in values:  # ctys' own long option, after the letters
        argv.append(f"{INVENTORY_OPTION}={values[INVENTORY_KEY]}")
    return argv


def target_invocation(inv: Invocation, target: Target) -> Invocation:
    """The invocation ``target`` runs: global options merged with its own, on itself."""
    from ctys.argscan import scan_argv

    parsed = scan_argv(options_argv(merged_options(inv, target), remote=False))
    return replace(parsed, targets=(Target(target.host, target.user),))
