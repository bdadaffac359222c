"""Markdown (CommonMark + tables, parsed by markdown-it-py) to man(7) roff.

The subset the docs use: headings (``#`` is the page's title and dropped, ``##`` a
``.SH``, ``###`` a ``.SS``, deeper ones a bold line), paragraphs, bullet and numbered lists
(nested), fenced and indented code, block quotes, tables (one ``.TP`` per row: the first
cell as its tag, the other cells ``header: cell``), inline code and strong (bold),
emphasis (italic), links (their text; the address too when it is not a relative link).
HTML blocks and rules are dropped. Every text is escaped: backslashes, a leading ``.`` or
``'``, and ``-`` (so options copy as ASCII hyphens).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

# groff's names of the docs' non-ASCII characters, known to every output device (an ASCII
# terminal too); any other one is written ``\\[uXXXX]``.
_SPECIAL = {
    "\u2014": "\\(em",
    "\u2013": "\\(en",
    "\u2026": "...",
    "\u2192": "\\(->",
    "\u2190": "\\(<-",
    "\u00d7": "\\(mu",
    "\u00f7": "\\(di",
    "\u2264": "\\(<=",
    "\u2265": "\\(>=",
    "\u00a7": "section ",  # (groff's \\(sc is missing on ASCII terminals)
    "\u00b5": "\\(*m",
    "\u201c": "\\(lq",
    "\u201d": "\\(rq",
    "\u2018": "\\(oq",
    "\u2019": "\\(cq",
    "\u3003": '"',
}


def escape(text: str) -> str:
    """Plain text as roff text (not yet safe at a line's start: see ``_guard_lines``):
    ASCII only, whatever the formatter's input encoding."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "".join(ch if ord(ch) < 128 else _SPECIAL.get(ch, f"\\[u{ord(ch):04X}]") for ch in text)


def _guard_lines(text: str) -> str:
    """Protect lines that start with a control character (``.`` or ``'``)."""
    return "\n".join("\\&" + line if line[:1] in (".", "'") else line for line in text.split("\n"))


def parse(markdown: str) -> list[Token]:
    """The block tokens of ``markdown`` (CommonMark with tables)."""
    return MarkdownIt("commonmark").enable("table").parse(markdown)


def inline(token: Token, *, upper: bool = False) -> str:
    """An ``inline`` token's children as roff text (font changes nest); ``upper``: its
    plain text upper-cased (a section title), code spans as they are."""
    out: list[str] = []
    fonts = ["R"]
    href: list[str] = []
    for child in token.children or []:
        kind = child.type
        if kind == "text":
            out.append(escape(child.content.upper() if upper else child.content))
        elif kind == "code_inline":
            out.append(f"\\fB{escape(child.content)}\\f{fonts[-1]}")
        elif kind in ("strong_open", "em_open"):
            fonts.append("B" if kind == "strong_open" else "I")
            out.append(f"\\f{fonts[-1]}")
        elif kind in ("strong_close", "em_close"):
            fonts.pop()
            out.append(f"\\f{fonts[-1]}")
        elif kind == "softbreak":
            out.append("\n")
        elif kind == "hardbreak":
            out.append("\n.br\n")
        elif kind == "link_open":
            href.append(str(child.attrs.get("href", "")))
        elif kind == "link_close":
            target = href.pop() if href else ""
            if "://" in target:
                out.append(f" <{escape(target)}>")
        elif kind == "image":
            out.append(escape(child.content))
        elif kind in ("html_inline",):
            continue
    return _guard_lines("".join(out).strip("\n"))


@dataclass
class _Renderer:
    lines: list[str] = field(default_factory=list)
    depth: int = 0  # nesting of lists and quotes (each nested one is indented: .RS)
    numbers: list[int | None] = field(default_factory=list)  # the open lists' next numbers
    item_start: bool = False  # the next paragraph is a list item's first (after its .IP)
    shift: int = 0  # added to every heading level (a doc that is a part of a page: 1)

    def emit(self, *lines: str) -> None:
        self.lines.extend(lines)

    def render(self, tokens: Sequence[Token]) -> None:
        index = 0
        while index < len(tokens):
            index = self._block(tokens, index)

    def _block(self, tokens: Sequence[Token], index: int) -> int:
        tok = tokens[index]
        kind = tok.type
        if kind == "heading_open":
            self._heading(int(tok.tag[1:]) + self.shift, tokens[index + 1])
            return index + 3
        if kind == "paragraph_open":
            text = inline(tokens[index + 1])
            if self.item_start:
                self.item_start = False  # follows its item's .IP
            elif self.numbers:
                self.emit('.IP "" 4' if self.numbers[-1] is not None else '.IP "" 2')
            else:
                self.emit(".PP")
            self.emit(text)
            return index + 3
        if kind in ("bullet_list_open", "ordered_list_open"):
            if self.numbers:
                self.emit(".RS")
            start = tok.attrs.get("start", 1)
            self.numbers.append(int(start) if kind == "ordered_list_open" else None)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.numbers.pop()
            if self.numbers:
                self.emit(".RE")
        elif kind == "list_item_open":
            self.item_start = True
            number = self.numbers[-1]
            if number is None:
                self.emit(".IP \\(bu 2")
            else:
                self.emit(f".IP {number}. 4")
                self.numbers[-1] = number + 1
        elif kind in ("fence", "code_block"):
            self.item_start = False
            body = _guard_lines(escape(tok.content.rstrip("\n")))
            self.emit(".PP", ".RS 4", ".nf", body, ".fi", ".RE")
        elif kind == "blockquote_open":
            self.emit(".RS 4")
        elif kind == "blockquote_close":
            self.emit(".RE")
        elif kind == "table_open":
            return self._table(tokens, index)
        return index + 1

    def _heading(self, level: int, title: Token) -> None:
        if level == 1:
            return  # the page's title: .TH and NAME say it
        text = inline(title, upper=level == 2)
        if level == 2:
            self.emit(f".SH {_quoted(text)}")
        elif level == 3:
            self.emit(f".SS {_quoted(text)}")
        else:
            self.emit(".PP", f"\\fB{text}\\fR")

    def _table(self, tokens: Sequence[Token], index: int) -> int:
        header: list[str] = []
        row: list[str] = []
        rows: list[list[str]] = []
        in_head = False
        while tokens[index].type != "table_close":
            tok = tokens[index]
            if tok.type == "thead_open":
                in_head = True
            elif tok.type == "thead_close":
                in_head = False
            elif tok.type == "tr_open":
                row = []
            elif tok.type == "tr_close":
                if in_head:
                    header = row
                else:
                    rows.append(row)
            elif tok.type == "inline":
                row.append(inline(tok).replace("\n", " "))
            index += 1
        for cells in rows:
            first, rest = (cells[0] if cells else ""), cells[1:]
            # Two columns: the second is the tag's text; more: each cell says its header.
            names = (header[1:] if len(header) > 2 else []) + [""] * len(rest)
            parts = [
                f"{name}: {cell}" if name else cell
                for name, cell in zip(names, rest, strict=False)
                if cell
            ]
            self.emit(".TP", f"\\fB{first}\\fR" if first else "\\&", "; ".join(parts) or "\\&")
        return index + 1


def _quoted(text: str) -> str:
    # A macro argument: quotes delimit it (a double quote inside is doubled).
    return '"' + text.replace('"', '""').replace("\n", " ") + '"'


def to_roff(tokens: Sequence[Token], shift: int = 0) -> list[str]:
    """The roff lines of a doc's (or a doc part's) block tokens; ``shift`` moves every
    heading down (1: the doc's ``#`` title is a ``.SH``, its ``##`` are ``.SS``)."""
    renderer = _Renderer(shift=shift)
    renderer.render(tokens)
    return renderer.lines


def sections(tokens: Sequence[Token], level: int = 2) -> list[tuple[str, list[Token]]]:
    """The doc split at its headings of ``level``: (heading text, its tokens with the
    heading); text before the first such heading has the title ``""``."""
    parts: list[tuple[str, list[Token]]] = [("", [])]
    for index, tok in enumerate(tokens):
        if tok.type == "heading_open" and tok.tag == f"h{level}":
            parts.append((tokens[index + 1].content, []))
        parts[-1][1].append(tok)
    return [(title, toks) for title, toks in parts if toks]
