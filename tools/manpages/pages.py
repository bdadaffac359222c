"""The table of manual pages: which docs (and which of their ``##`` sections) each is made
of. The docs are the one source: a page says nothing they do not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from markdown_it.token import Token

from manpages.roff import escape, parse, sections, to_roff


@dataclass(frozen=True)
class Part:
    """A doc, or the ``##`` sections of it whose titles start with one of ``take`` (all when
    empty) and with none of ``leave``. ``shift`` 1: the doc's ``#`` title is a section."""

    doc: str
    take: tuple[str, ...] = ()
    leave: tuple[str, ...] = ()
    shift: int = 0

    def wants(self, title: str) -> bool:
        if self.leave and title.startswith(self.leave):
            return False
        return not self.take or title.startswith(self.take)


@dataclass(frozen=True)
class Page:
    name: str
    section: int
    summary: str  # the NAME line's text after "name -"
    parts: tuple[Part, ...]

    @property
    def filename(self) -> str:
        return f"{self.name}.{self.section}"


_PLUGIN = ("QEMU", "Machine addresses", "VNC consoles")

PAGES: tuple[Page, ...] = (
    Page(
        "ctys",
        1,
        "manage virtual machines on this host or on remote targets",
        (Part("cli.md", leave=_PLUGIN), Part("remote.md", shift=1), Part("completion.md", shift=1)),
    ),
    Page(
        "ctys-QEMU",
        1,
        "the QEMU plugin of ctys: its actions, suboptions, addresses and consoles",
        (Part("cli.md", take=_PLUGIN), Part("networking.md", shift=1)),
    ),
    Page("ctys-vhost", 1, "query the ctys inventory (name-service cache)", (Part("inventory.md"),)),
    Page(
        "ctys-createConfVM",
        1,
        "write a new VM folder: conf file and disk image",
        (Part("create-vm.md"),),
    ),
    Page("ctys-cloneVM", 1, "clone a VM: full copy or linked", (Part("clone-vm.md"),)),
    Page("ctys-conf", 5, "the VM conf file of ctys (QEMU VMs)", (Part("conf-format.md"),)),
)


def render_page(page: Page, docs: Path, version: str) -> str:
    """The roff text of ``page`` from the docs in the folder ``docs``."""
    title = page.name.upper()
    lines = [
        f'.TH "{title}" "{page.section}" "" "ctys {version}" "ctys manual"',
        ".SH NAME",
        f"{escape(page.name)} \\- {escape(page.summary)}",
    ]
    for part in page.parts:
        lines += _part(part, docs)
    others = [p for p in PAGES if p is not page]
    lines += [".SH SEE ALSO", ",\n".join(f"\\fB{escape(p.name)}\\fR({p.section})" for p in others)]
    return "\n".join(lines) + "\n"


def _part(part: Part, docs: Path) -> list[str]:
    tokens = parse((docs / part.doc).read_text(encoding="utf-8"))
    if part.shift:
        return to_roff(tokens, shift=part.shift)
    lines: list[str] = []
    for title, toks in sections(tokens):
        if title == "":
            lines += [] if part.take else _preamble(toks)
        elif part.wants(title):
            lines += to_roff(toks)
    return lines


def _preamble(tokens: list[Token]) -> list[str]:
    """A doc's text before its first ``##``: a leading code block is the SYNOPSIS, the
    rest the DESCRIPTION (the ``#`` title is the page's NAME)."""
    if tokens and tokens[0].type == "heading_open" and tokens[0].tag == "h1":
        tokens = tokens[3:]
    lines: list[str] = []
    if tokens and tokens[0].type == "fence":
        lines += [".SH SYNOPSIS", *to_roff(tokens[:1])]
        tokens = tokens[1:]
    if tokens:
        lines += [".SH DESCRIPTION", *to_roff(tokens)]
    return lines
