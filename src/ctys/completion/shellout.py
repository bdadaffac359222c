"""What ``ctys-complete`` prints for each shell, and the reading of bash's command line.

bash hands over ``COMP_LINE`` and ``COMP_POINT`` (``split_line`` splits it as the shell
would, tolerating an open quote); zsh and fish hand over the words themselves. Every
answer is one candidate a line; bash's and zsh's answers start with a mode line
(``nospace`` when a candidate is not a whole word yet, else ``space``). A candidate holding
a control character (a label from someone's conf, say) is dropped: it would reach the
terminal when the shell lists the candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from ctys.completion.engine import Candidate

# bash inserts a candidate as it is: every other character gets a backslash.
_BASH_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")
DEFAULT_BREAKS = " \t\n\"'@><=;|&(:"


class Shell(Enum):
    BASH = "bash"
    ZSH = "zsh"
    FISH = "fish"


def split_line(line: str) -> tuple[list[str], str]:
    """The words of a shell command line (quotes and backslashes removed) and the word being
    typed at its end (``""`` after a blank)."""
    words: list[str] = []
    word: list[str] = []
    quote = ""
    started = False
    escaped = False
    for char in line:
        if escaped:
            word.append(char)
            escaped = False
        elif char == "\\" and quote != "'":
            escaped = started = True
        elif quote:
            if char == quote:
                quote = ""
            else:
                word.append(char)
        elif char in "'\"":
            quote, started = char, True
        elif char in " \t\n":
            if started:
                words.append("".join(word))
            word, started = [], False
        else:
            word.append(char)
            started = True
    return words, "".join(word)


def printable(candidate: Candidate) -> bool:
    """Whether the candidate can be shown on a terminal (no control characters)."""
    return all(ch.isprintable() for ch in candidate.value)


def render(shell: Shell, current: str, found: Sequence[Candidate], breaks: str) -> str:
    """The lines ``ctys-complete`` prints for ``shell``."""
    shown = [c for c in found if printable(c)]
    lines: list[str] = []
    if shell is not Shell.FISH:
        lines.append("nospace" if any(c.continues for c in shown) else "space")
    if shell is Shell.BASH:
        # bash replaces only what follows the last of its word-break characters.
        cut = max((current.rfind(ch) + 1 for ch in breaks if ch in current), default=0)
        lines += [bash_escape(c.value[cut:]) for c in shown]
    else:
        lines += [f"{c.value}\t{_one_line(c.help)}" if c.help else c.value for c in shown]
    return "".join(line + "\n" for line in lines)


def bash_escape(text: str) -> str:
    """``text`` as bash reads it back: a backslash before every special character."""
    return "".join(ch if ch in _BASH_PLAIN else "\\" + ch for ch in text)


def _one_line(text: str) -> str:
    return " ".join(text.split())
