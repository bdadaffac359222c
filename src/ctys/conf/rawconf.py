"""What a parsed conf file is, whatever hypervisor it describes: ``RawConf`` (what
``ctys.conf.parser`` returns) and ``ConfMode`` (whether a ``NAME.ctys`` wrapper sits
beside the conf)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class ConfMode(Enum):
    """``sh+ctys``: conf plus its wrapper script beside it (01.07: ``NAME.conf`` with
    ``NAME.ctys``; 01.11: ``NAME.ctys`` with ``NAME.sh``); ``ctys-conf``: conf only."""

    SH_CTYS = "sh+ctys"
    CTYS_CONF = "ctys-conf"


def wrapper_path(conf: Path) -> Path:
    """The wrapper script of a conf: ``NAME.sh`` beside a 01.11 ``NAME.ctys``, ``NAME.ctys``
    beside a ``NAME.conf`` (01.07)."""
    return conf.with_suffix(".sh" if conf.suffix == ".ctys" else ".ctys")


@dataclass(frozen=True)
class RawConf:
    """A conf file split into its two namespaces, values already ``$VAR``-expanded.

    ``variables``: shell-style ``KEY=value`` assignments, in file order.
    ``keys``: ctys keys from ``#@#KEY = value`` comment lines (names upper-cased).
    ``magic``: the MAGICID-* markers present (e.g. ``{"MAGICID-IGNORE"}``).
    ``skipped_lines``: lines passed over as shell code (only in a 01.11 ``NAME.ctys``,
    ``ctys.conf.lenient``); empty for a file read whole.
    """

    path: Path
    variables: Mapping[str, str]
    keys: Mapping[str, str]
    magic: frozenset[str]
    skipped_lines: tuple[int, ...] = ()
