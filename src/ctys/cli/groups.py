"""``ctys-groups``: list, show and expand the host groups of ``CTYS_GROUPS_PATH`` (the
original's ctys-groups(1)).

    ctys-groups [-l | -m 1|2|3|4|5|5x|6|7|7u|8|8u | -c | -S|-F [-D N]] [-X] [-d L] [-V]
                [GROUP|FOLDER/ ...]

Without ``-l``/``-m``: one line per group, ``<size-kbytes> <#hosts>/<#includes> <#total>
<group>`` (``#total``: the targets after every include and nested group). ``-l``:
``<size-bytes> <#members> <group>``. ``-m``: the members, expanded (the formats are in
docs/cli.md). Arguments (also ``%``-separated): group names, ``folder/`` for every group
below a folder of the search path, absolute files or folders. Exit 0, 1 on an error (a bad
or untrusted group file, a cycle), 2 for bad usage.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from ctys.cli.toolargs import OneLineParser, add_common_options, answer_common
from ctys.errors import UsageError
from ctys.groups import GroupResolver, find_group, group_names, groups_path
from ctys.invocation import Target
from ctys.runguard import run_guarded
from ctys.safestream import safe_stream

PROG = "ctys-groups"
_FORMATS = ("1", "2", "3", "4", "5", "5x", "6", "7", "7u", "8", "8u")


def _parser() -> OneLineParser:
    parser = OneLineParser(
        prog=PROG,
        allow_abbrev=False,
        description="List, show and expand the host groups of CTYS_GROUPS_PATH "
        "(~/.ctys/groups first).",
    )
    parser.add_argument("-c", dest="cached", action="store_true", help="cached groups (none)")
    parser.add_argument("-l", dest="listing", action="store_true", help="list group files")
    parser.add_argument(
        "-m", dest="members", nargs="?", const="3", metavar="FORMAT",
        help="members: 1 hosts, 2 accounts, 3 with options, 4|5 a target list to paste, "
        "5x with indexes, 6 e-mail style, 7|7u accounts, 8|8u hosts (u: no repeats)",
    )  # fmt: skip
    add_common_options(parser)
    parser.add_argument("groups", nargs="*", metavar="GROUP", help="groups or folders/")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ctys-groups`` with ``argv`` (``sys.argv[1:]`` when None); return exit status."""
    args = sys.argv[1:] if argv is None else list(argv)

    def body() -> int:
        out, err = safe_stream(sys.stdout), safe_stream(sys.stderr)
        try:
            options = _parser().parse_args(args)
        except SystemExit as exc:  # argparse after -h
            return int(exc.code or 0)
        return run(options, out, err)

    return run_guarded(PROG, body, lambda: 0)


def run(options: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Carry out parsed options; raise ``CtysError`` on failure."""
    path = groups_path()
    names = [n for word in options.groups for n in word.split("%") if n]
    if options.members is not None and options.members not in _FORMATS:
        names.insert(0, options.members)  # the original: -m without a format, then a group
        options.members = "3"
    if answer_common(options, _parser(), out, "groups", path, names or [""]):
        return 0
    if options.cached:
        print(f"{PROG}: ctys keeps no group cache (the original's SUBGROUP files)", file=err)
        return 0
    resolver = GroupResolver(path)
    selected = list(_select(names, path, resolver))
    if options.members is not None:
        _print_members(out, resolver, selected, options.members, terse=options.terse)
    else:
        for name, file in selected:
            _print_summary(out, resolver, name, file, listing=options.listing, terse=options.terse)
    return 0


def _select(
    names: Sequence[str], path: Sequence[Path], resolver: GroupResolver
) -> Iterator[tuple[str, Path]]:
    """The groups the arguments name (every group when none), as (name, file)."""
    if not names:
        yield from group_names(path)
        return
    for name in names:
        if name.endswith("/"):
            yield from _folder_groups(name, path)
            continue
        file = find_group(name, path)
        if file is None:
            raise UsageError(f"no group '{name}' in {resolver.where()}")
        yield name, file


def _folder_groups(name: str, path: Sequence[Path]) -> Iterator[tuple[str, Path]]:
    if name.startswith("/"):
        folder = Path(name)
        if not folder.is_dir():
            raise UsageError(f"no folder '{name}'")
        yield from ((str(folder / n), f) for n, f in group_names([folder]))
        return
    found = list(group_names(path, name.strip("/")))
    if not found:
        raise UsageError(f"no groups below '{name}' in the groups path")
    yield from found


def _print_summary(
    out: TextIO, resolver: GroupResolver, name: str, file: Path, *, listing: bool, terse: bool
) -> None:
    group = resolver.load(file)
    size = file.stat().st_size
    hosts, includes = len(group.members), len(group.includes)
    if listing:
        fields = [str(size), str(hosts), name]
    else:
        total = len(resolver(str(file) if name.startswith("/") else name) or ())
        fields = [f"{size / 1024:.1f}", f"{hosts}/{includes}", str(total), name]
    print(";".join(fields) if terse else " ".join(fields), file=out)


def target_word(target: Target, *, options: bool = True, user: bool = True) -> str:
    """A member as a target word: ``[user@]host['(' options ')']`` (options shell-quoted)."""
    text = f"{target.user}@{target.host}" if user and target.user else target.host
    if options and target.options:
        text += f"({shlex.join(target.options)})"
    return text


def _print_members(
    out: TextIO,
    resolver: GroupResolver,
    selected: Sequence[tuple[str, Path]],
    form: str,
    *,
    terse: bool,
) -> None:
    me = os.environ.get("USER") or "root"
    index = 0
    printed: set[str] = set()  # 7u, 8u: no repeats over all groups
    for name, file in selected:
        members = resolver(str(file) if name.startswith("/") else name) or ()
        if form in ("1", "2", "3"):
            print(f"{name}:", file=out)
            for target in members:
                word = target_word(target, options=form == "3", user=form != "1")
                print(f"{name};{word}" if terse else f"  {word}", file=out)
        elif form in ("4", "5"):
            print(shlex.join(target_word(t) for t in members), file=out)
        elif form == "5x":
            for target in members:
                index += 1
                print(f"{index};{name};{target_word(target)}", file=out)
        elif form == "6":
            print(", ".join(f"{t.user or me}@{t.host}" for t in members), file=out)
        else:
            for target in members:
                word = f"{target.user or me}@{target.host}" if form[0] == "7" else target.host
                if not (form.endswith("u") and word in printed):
                    print(word, file=out)
                printed.add(word)
