"""The folder layouts ``ctys-createConfVM --layout`` writes, and the wrapper script of the
original's layouts (pure: text in, text out).

- ``ctys`` (the default): ``NAME.conf`` only.
- ``01.11``: ``NAME.ctys`` (the keys) + ``NAME.sh`` (the wrapper).
- ``01.07``: ``NAME.conf`` (the keys) + ``NAME.ctys`` (the wrapper).

The wrapper ctys writes takes the original's wrapper options (``--console=``,
``--bootmode=``, ``--instmode=``, ``--kernelmode=``, ``--argsadd=``, ``--vncaccessdisplay=``,
``--check``) and calls ``ctys -t QEMU -a CREATE=…`` on the conf beside it, so a VM started
through it is managed by ctys like any other. It never sources the conf.
"""

from __future__ import annotations

from enum import Enum

from ctys.plugins.qemu.boot.wrapper import CTYS_WRAPPER_MARK


class Layout(Enum):
    """Which files make up a new VM folder."""

    CTYS = "ctys"
    V0111 = "01.11"
    V0107 = "01.07"

    @property
    def conf_suffix(self) -> str:
        return ".ctys" if self is Layout.V0111 else ".conf"

    @property
    def wrapper_suffix(self) -> str | None:
        """The wrapper's suffix; ``None``: this layout has no wrapper."""
        return {Layout.V0111: ".sh", Layout.V0107: ".ctys"}.get(self)


# The label is a plain file name ([A-Za-z0-9_.-], newvm.check_label): safe bare in sh.
_WRAPPER = """\
#!/bin/sh
{mark}
# The {layout} wrapper of VM {label}, written by ctys-createConfVM. It takes the original
# ctys wrapper's options and boots the VM with ctys from {conf} beside it (which is data:
# ctys parses it, nothing sources it). {check_note}
CTYSWRAPPERPATH=$(cd "$(dirname "$0")" && pwd) || exit 1
conf="$CTYSWRAPPERPATH/{conf}"
subopts="P:$conf"
check=0
while [ $# -gt 0 ]; do
    case $1 in
        --console=*) subopts="$subopts,CONSOLE:${{1#*=}}" ;;
        --bootmode=*) subopts="$subopts,BOOTMODE:${{1#*=}}" ;;
        --instmode=*) subopts="$subopts,INSTMODE:${{1#*=}}" ;;
        --kernelmode=*) subopts="$subopts,KERNEL:${{1#*=}}" ;;
        --argsadd=*) subopts="$subopts,ARGSADD:$(printf '%s' "${{1#*=}}" | tr ' ' '%')" ;;
        --vncaccessdisplay=*) ;;  # ctys chooses where the VNC server listens
        --check) check=1 ;;
        -d) shift ;;
        *) echo "$0: unknown option: $1" >&2; exit 1 ;;
    esac
    shift
done
if [ "$check" = 1 ]; then
    command -v "${{CTYS:-ctys}}" >/dev/null && [ -f "$conf" ]
    exit
fi
exec "${{CTYS:-ctys}}" -t QEMU -a "CREATE=$subopts"
"""


def render_wrapper(label: str, conf_name: str, layout: Layout) -> str:
    """The wrapper script text for VM ``label`` whose conf is ``conf_name`` beside it."""
    return _WRAPPER.format(
        mark=CTYS_WRAPPER_MARK,
        layout=layout.value,
        label=label,
        conf=conf_name,
        check_note="--check: only checks that ctys and the conf are there.",
    )
