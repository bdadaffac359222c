"""Write the manual pages (``pages.PAGES``) from the docs: ``scripts/install.sh`` runs

    PYTHONPATH=tools .venv/bin/python -m manpages.build --out .venv/share/man

which writes ``man1/ctys.1`` ... ``man5/ctys-conf.5`` there. ``--check`` compares instead
and exits 1 naming the pages that differ (or are missing)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from manpages.pages import PAGES, render_page

ROOT = Path(__file__).resolve().parents[2]


def version() -> str:
    """ctys' version, as installed (the venv's package)."""
    from ctys import __version__

    return __version__


def generate(docs: Path, version_text: str) -> dict[str, str]:
    """Every page: its path below a man folder (``man1/ctys.1``) -> its roff text."""
    return {
        f"man{page.section}/{page.filename}": render_page(page, docs, version_text)
        for page in PAGES
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write ctys' man pages from docs/*.md.")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    parser.add_argument("--out", type=Path, required=True, help="a man folder (share/man)")
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    pages = generate(args.docs, version())
    stale = []
    for rel, text in pages.items():
        path = args.out / rel
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(rel)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if stale:
        print(f"man pages out of date in {args.out}: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
