"""``#@#SHARE<n> = HOSTDIR%TAG[%OPTION...]`` read from a conf into typed ``Share`` values.

``HOSTDIR`` is a folder on the host (``~`` is the home, relative is to the conf's folder);
``TAG`` is what the guest mounts (``mount -t virtiofs TAG /mnt``). Options: ``ro`` (the
guest cannot write), ``rw`` (the default), ``9p`` or ``virtiofs`` (force the transport;
without one ctys picks virtiofs when the host can run virtiofsd, else 9p). ``SHARE`` alone
is ``SHARE0``. Every error is one line naming the conf and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ctys.errors import VmError
from ctys.plugins.qemu.vmconfig import VmConfig

#: Shares per VM: SHARE0 .. SHARE15.
MAX_SHARES = 16
#: virtiofs limits its tag to 36 bytes (the virtio-fs config space field).
MAX_TAG_BYTES = 36
_KEY = re.compile(r"SHARE(\d*)")
# A tag is one word qemu's option parser and the guest's mount both take as is.
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class Transport(Enum):
    """How a share reaches the guest."""

    VIRTIOFS = "virtiofs"  # vhost-user-fs device served by one virtiofsd per share
    NINEP = "9p"  # qemu's own virtio-9p device (no daemon)


@dataclass(frozen=True)
class Share:
    """One shared folder of a VM."""

    index: int
    key: str  # as written: "#@#SHARE1"
    hostdir: Path  # absolute, symlinks resolved
    tag: str
    readonly: bool = False
    transport: Transport | None = None  # forced by the conf; None: ctys picks


def parse_share(key: str, index: int, text: str, base: Path) -> Share:
    """The share ``text`` (``HOSTDIR%TAG[%ro|rw|9p|virtiofs...]``) of conf key ``key``,
    paths relative to ``base``. Pure: the folder is checked by ``check_hostdir``.
    ``VmError`` names the key and what is wrong."""
    fields = [field.strip() for field in text.split("%")]
    if len(fields) < 2 or not fields[0] or not fields[1]:
        raise VmError(f"{key}: expected HOSTDIR%TAG[%ro], got {text!r}")
    hostdir, tag, options = fields[0], fields[1], fields[2:]
    check_tag(key, tag)
    readonly: bool | None = None
    transport: Transport | None = None
    for option in options:
        word = option.lower()
        if word in ("ro", "rw"):
            if readonly is not None and readonly != (word == "ro"):
                raise VmError(f"{key}: both ro and rw given")
            readonly = word == "ro"
        elif word in ("9p", "virtiofs"):
            forced = Transport(word)
            if transport is not None and transport is not forced:
                raise VmError(f"{key}: both 9p and virtiofs given")
            transport = forced
        else:
            raise VmError(f"{key}: unknown option {option!r} (ro, rw, 9p, virtiofs)")
    path = Path(hostdir).expanduser() if hostdir.startswith("~") else Path(hostdir)
    path = path if path.is_absolute() else base / path
    return Share(index, key, path, tag, bool(readonly), transport)


def check_tag(key: str, tag: str) -> None:
    """A tag qemu and the guest's mount take as one word, at most 36 bytes."""
    if not _TAG.fullmatch(tag):
        raise VmError(
            f"{key}: tag {tag!r} is not a mount tag (letters, digits, '_', '.', '-';"
            " a letter or digit first)"
        )
    if len(tag.encode()) > MAX_TAG_BYTES:
        raise VmError(f"{key}: tag {tag!r} is longer than {MAX_TAG_BYTES} bytes")


def check_hostdir(share: Share) -> Share:
    """``share`` with its folder resolved; ``VmError`` when it is not an existing folder."""
    path = share.hostdir
    if not path.exists():
        raise VmError(f"{share.key}: host folder {path} does not exist")
    if not path.is_dir():
        raise VmError(f"{share.key}: {path} is not a folder")
    return Share(share.index, share.key, path.resolve(), share.tag, share.readonly,
                 share.transport)  # fmt: skip


def share_keys(keys: dict[str, str] | None) -> list[tuple[int, str, str]]:
    """``(index, key name, text)`` of every non-empty ``SHARE<n>`` key, by index.
    ``VmError`` for an index out of range or given twice (``SHARE`` and ``SHARE0``)."""
    found: dict[int, str] = {}
    rows: list[tuple[int, str, str]] = []
    for name, text in (keys or {}).items():
        match = _KEY.fullmatch(name)
        if match is None or not text.strip():
            continue
        index = int(match.group(1) or "0")
        key = f"#@#{name}"
        if index >= MAX_SHARES:
            raise VmError(f"{key}: at most {MAX_SHARES} shares (SHARE0 .. SHARE{MAX_SHARES - 1})")
        if index in found:
            raise VmError(f"{key}: share {index} is given twice ({found[index]} and {key})")
        found[index] = key
        rows.append((index, key, text.strip()))
    return sorted(rows)


def shares_for(vm: VmConfig) -> tuple[Share, ...]:
    """Every share of ``vm``'s conf, folders checked. ``VmError`` names the conf and the
    key of the first bad one; two shares with one tag are refused."""
    raw = vm.raw
    shares: list[Share] = []
    tags: dict[str, str] = {}
    base = vm.conf_path.absolute().parent
    try:
        for index, key, text in share_keys(dict(raw.keys) if raw else None):
            share = check_hostdir(parse_share(key, index, text, base))
            if share.tag in tags:
                raise VmError(f"{key}: tag {share.tag!r} is used by {tags[share.tag]} too")
            tags[share.tag] = key
            shares.append(share)
    except VmError as err:
        raise VmError(f"{vm.conf_path}: {err}") from None
    return tuple(shares)
