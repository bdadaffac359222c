"""What a parsed conf file is, whatever hypervisor it describes: ``RawConf`` (what
``ctys.conf.parser`` returns) and ``ConfMode`` (whether a ``NAME.ctys`` wrapper sits
beside the conf)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class ConfMode(Enum):
    """``sh+ctys``: conf plus a ``NAME.ctys`` wrapper beside it; ``ctys-conf``: conf only."""

    SH_CTYS = "sh+ctys"
    CTYS_CONF = "ctys-conf"


@dataclass(frozen=True)
class RawConf:
    """A conf file split into its two namespaces, values already ``$VAR``-expanded.

    ``variables``: shell-style ``KEY=value`` assignments, in file order.
    ``keys``: ctys keys from ``#@#KEY = value`` comment lines (names upper-cased).
    ``magic``: the MAGICID-* markers present (e.g. ``{"MAGICID-IGNORE"}``).
    """

    path: Path
    variables: Mapping[str, str]
    keys: Mapping[str, str]
    magic: frozenset[str]
