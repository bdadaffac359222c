"""The man pages: the Markdown -> roff converter (``tools/manpages/roff``) and the pages
generated from docs/*.md (``pages``, ``build``): each page has the sections of its docs,
formats without a groff warning, and ``build --check`` tells a stale page."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from manpages import build
from manpages.pages import PAGES, Part, render_page
from manpages.roff import escape, parse, sections, to_roff

DOCS = Path(__file__).resolve().parents[2] / "docs"


def roff(markdown: str, shift: int = 0) -> list[str]:
    return to_roff(parse(markdown), shift)


def test_headings_become_sections_and_subsections() -> None:
    assert roff("# Title\n\n## Two `-t` words\n\n### Three\n\n#### Four\n") == [
        '.SH "TWO \\fB\\-t\\fR WORDS"',  # code keeps its case
        '.SS "Three"',
        ".PP",
        "\\fBFour\\fR",
    ]
    assert roff("# Remote\n\n## Output\n", shift=1) == ['.SH "REMOTE"', '.SS "Output"']


def test_text_is_escaped() -> None:
    assert escape("a\\b -x \u2192 \u263a") == "a\\eb \\-x \\(-> \\[u263A]"
    # A line that would start with a roff request is guarded.
    assert roff("x\n.TH evil\n'also\n") == [".PP", "x\n\\&.TH evil\n\\&'also"]


def test_inline_fonts_nest() -> None:
    assert roff("a **b *c* d** `e`\n") == [".PP", "a \\fBb \\fIc\\fB d\\fR \\fBe\\fR"]


def test_links_keep_their_text_and_external_addresses() -> None:
    assert roff("[doc](other.md) and [site](https://x.org)\n") == [
        ".PP",
        "doc and site <https://x.org>",
    ]


def test_lists_nest_and_number() -> None:
    assert roff("- a\n- b\n  1. c\n  2. d\n") == [
        ".IP \\(bu 2",
        "a",
        ".IP \\(bu 2",
        "b",
        ".RS",
        ".IP 1. 4",
        "c",
        ".IP 2. 4",
        "d",
        ".RE",
    ]


def test_code_blocks_are_verbatim() -> None:
    assert roff("```\n.hidden -x\\y\n```\n") == [
        ".PP",
        ".RS 4",
        ".nf",
        "\\&.hidden \\-x\\ey",
        ".fi",
        ".RE",
    ]


def test_tables_are_tagged_paragraphs() -> None:
    two = "| key | meaning |\n|---|---|\n| `L` | label |\n"
    assert roff(two) == [".TP", "\\fB\\fBL\\fR\\fR", "label"]
    three = "| a | b | c |\n|---|---|---|\n| x | y | z |\n"
    assert roff(three) == [".TP", "\\fBx\\fR", "b: y; c: z"]


def test_sections_split_at_level_two() -> None:
    parts = sections(parse("# T\n\nintro\n\n## A\n\na\n\n## B\n\nb\n"))
    assert [title for title, _ in parts] == ["", "A", "B"]


def test_part_selection() -> None:
    part = Part("x.md", take=("QEMU", "VNC"), leave=("QEMU CREATE",))
    assert part.wants("QEMU actions") and part.wants("VNC consoles")
    assert not part.wants("QEMU CREATE: waiting") and not part.wants("Targets")
    assert Part("x.md").wants("anything")


def _doc_headings(part: Part) -> list[str]:
    """The headings a part puts on its page (level 2 and 3; its title too when the doc is
    a part of a page), as plain text (entities decoded, code marks dropped)."""
    tokens = parse((DOCS / part.doc).read_text(encoding="utf-8"))
    levels = ("h1", "h2", "h3") if part.shift else ("h2", "h3")
    found: list[str] = []
    for title, toks in sections(tokens):
        if part.shift or (part.wants(title) if title else not part.take):
            for i, tok in enumerate(toks):
                if tok.type == "heading_open" and tok.tag in levels:
                    found.append("".join(c.content for c in toks[i + 1].children or []))
    return found


def _plain(roff_text: str) -> str:
    out = subprocess.run(
        ["groff", "-man", "-Tascii", "-P-cbou", "-rLL=300n"],
        input=roff_text,
        capture_output=True,
        text=True,
        check=True,
    )
    return " ".join(out.stdout.split())


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff not installed")
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.filename)
def test_each_page_has_the_sections_of_its_docs(page: object) -> None:
    from manpages.pages import Page

    assert isinstance(page, Page)
    text = render_page(page, DOCS, "9.9")
    shown = _plain(text).upper()
    headings = [h for part in page.parts for h in _doc_headings(part)]
    assert headings
    for heading in headings:
        words = " ".join(heading.split()).upper()
        assert words in shown, f"{page.filename}: section '{heading}' missing"
    assert f"{page.name.upper()}({page.section})" in shown


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff not installed")
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.filename)
def test_each_page_formats_without_warnings(page: object) -> None:
    from manpages.pages import Page

    assert isinstance(page, Page)
    out = subprocess.run(
        ["groff", "-man", "-ww", "-Wbreak", "-z", "-Tascii"],  # the poorest device: man in C
        input=render_page(page, DOCS, "9.9"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stderr == ""


def test_the_pages_table() -> None:
    names = {p.filename for p in PAGES}
    assert {"ctys.1", "ctys-QEMU.1", "ctys-vhost.1", "ctys-createConfVM.1", "ctys-conf.5"} <= names
    for page in PAGES:
        for part in page.parts:
            assert (DOCS / part.doc).is_file(), part.doc
    assert "ctys-cloneVM.1" in names and (DOCS / "clone-vm.md").is_file()


def test_build_writes_and_check_tells_a_stale_page(tmp_path: Path) -> None:
    assert build.main(["--out", str(tmp_path)]) == 0
    assert (tmp_path / "man1" / "ctys.1").is_file() and (
        tmp_path / "man5" / "ctys-conf.5"
    ).is_file()
    assert build.main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "man1" / "ctys-vhost.1").write_text("old\n")
    assert build.main(["--out", str(tmp_path), "--check"]) == 1
