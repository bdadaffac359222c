"""``-L CF`` for QEMU: CREATE's client (VNC viewer, or the serial console with
``CONSOLE:CLI``) runs on the caller; the target's LIST rows say where the VM's server
listens (the core opens the tunnel: ``ctys.remote.tunnel``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ctys.address.model import ADDRESS_KEYS
from ctys.errors import CtysError, UsageError
from ctys.invocation import ActionCall
from ctys.plugins.answers import ClientEndpoint

__all__ = ["QemuForwarding", "select_row", "wants_serial"]

# Address kinds a LIST row can be compared with, and its column.
_COLUMNS = {"LABEL": "LABEL", "UUID": "UUID", "PATHNAME": "CONF", "ID": "CONF", "VMID": "VMID"}


def wants_serial(call: ActionCall) -> bool:
    """Whether the call's ``CONSOLE:`` is the serial console (CLI, attached here through
    the tunnel) rather than VNC (any other console, and none given: the original's
    default)."""
    consoles = [s.args[0].upper() for s in call.suboptions if s.key == "CONSOLE" and s.args]
    kind = consoles[-1] if consoles else "VNC"
    if kind == "CLI0":
        raise UsageError(
            "-L CF with CONSOLE:CLI0 (the VM bound to the target's terminal) cannot forward"
            " the console: use CONSOLE:CLI"
        )
    return kind == "CLI"


def select_row(rows: Sequence[Mapping[str, object]], call: ActionCall) -> dict[str, object]:
    """The one LIST row the call's address (LABEL, UUID, P:/ID: = its conf, VMID) names;
    ``CtysError`` when none or several do, ``UsageError`` when no term can be compared."""
    terms = [
        (_COLUMNS[ADDRESS_KEYS[s.key].value], s.args[0])
        for s in call.suboptions
        if s.key in ADDRESS_KEYS and s.args and ADDRESS_KEYS[s.key].value in _COLUMNS
    ]
    if not terms:
        raise UsageError(
            "-L CF finds the started VM by LABEL, UUID, P:/ID: (its conf) or VMID; "
            "the address has none of them"
        )

    def matches(row: Mapping[str, object]) -> bool:
        for column, value in terms:
            have = str(row.get(column) or "")
            if (have.lower() != value.lower()) if column == "UUID" else (have != value):
                return False
        return True

    found = [dict(r) for r in rows if matches(r)]
    if len(found) != 1:
        what = "no running VM matches" if not found else f"{len(found)} running VMs match"
        raise CtysError(f"-L CF: {what} the address on the target")
    return found[0]


class QemuForwarding:
    """CREATE's client through the tunnel: the VM's VNC server or serial console socket."""

    def query_args(self, call: ActionCall) -> Sequence[str]:
        return ["-a", "LIST", "-o", "json"]

    def endpoint(self, call: ActionCall, rows: Sequence[Mapping[str, object]]) -> ClientEndpoint:
        serial = wants_serial(call)
        row = select_row(rows, call)
        label = str(row.get("LABEL") or "")
        value = row.get("CONSOLE" if serial else "VNC")
        if not value:
            what = "serial console" if serial else "VNC server"
            raise CtysError(f"-L CF: {label} has no {what} to forward")
        return ClientEndpoint(label, str(value), serial)
