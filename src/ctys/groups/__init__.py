"""Host groups (the original's ``CTYS_GROUPS_PATH``): files listing targets with their
options, usable wherever a target is (``ctys -a LIST mygroup``).

``search`` finds group files on the search path, ``groupfile`` parses one (data, never
sourced), ``expand`` turns a group name into its member targets (``#include`` and nested
groups, cycles refused). Core package: imports ``ctys.argscan``, ``ctys.invocation``,
``ctys.trustedfile`` and ``ctys.errors`` only.
"""

from __future__ import annotations

from ctys.groups.expand import GroupResolver
from ctys.groups.groupfile import GroupFile, Include, Member, parse_group_text
from ctys.groups.search import ENV_GROUPS_PATH, find_group, group_names, groups_path

__all__ = [
    "ENV_GROUPS_PATH",
    "GroupFile",
    "GroupResolver",
    "Include",
    "Member",
    "find_group",
    "group_names",
    "groups_path",
    "parse_group_text",
]
