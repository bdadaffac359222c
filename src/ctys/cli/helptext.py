"""The general help of ``ctys -h`` / ``ctys -H`` as plain text (no rich: start-up must be fast).

Plugin and action help come from the plugin itself (``Plugin.help``).
"""

from __future__ import annotations

from collections.abc import Sequence

SYNOPSIS = """\
usage: ctys [-t TYPE | -T TYPE[,TYPE...]|ALL] -a ACTION[=SUBOPTS] [OPTIONS] [TARGET ...]
       ctys -h | -H | -V"""

_SHORT = """\
Manage virtual machines on this host or on remote targets.

Selection and action:
  -t TYPE              session type (plugin) to act on; default {default}
  -T TYPE,...|ALL      plugins to load; ALL = every installed plugin
  -a ACTION[=SUBOPTS]  action and its suboptions, e.g. CREATE, CANCEL, LIST, ENUMERATE, INFO

Suboptions:  KEY[:ARG[%ARG...]][,KEY...]
  ','  separates suboptions       ':'  separates a key from its arguments
  '%'  separates arguments        '\\'  escapes ',' '%' '\\' inside arguments
  keys are case-insensitive (l:vm1 == L:vm1); arguments keep their case

Generic options:
  -c ON[,BOTH|LOCAL|REMOTE][,ONLY]|OFF
                 use of the inventory (the original's cacheDB); OFF = -C off; ONLY:
                 addresses from the inventory alone, no scan; -c local = -c ON,LOCAL
  --inventory PATH  the inventory file (ctys' SQLite name-service cache)
  -p DIR         the original's DB directory: ENUMERATE also writes DIR/enum.fdb
  -C MODE        inventory control: on|off|rebuild|clear|list (the original's
                 ON,KEEP,... runtime-cache forms are accepted with a note)
  -g WxH[+X+Y][:SCREEN[:LAYOUT[:XORGCONF]]]  console window geometry (and screen)
  -r RES         resolution (where the plugin supports it)
  -b MODE[,SEQ]  sync|0 = foreground, async|1 = background; seq|2 = targets one
                 after another, par|3 = at once (default); stack = sync,seq
  -z NOPTY|PTY|PTY,PTY|N  pseudo-terminal for remote targets (ssh -t [-t]); default:
                 one when stdin is a terminal and the action attaches a console
  -S SIG,...     signals to ignore (INT,TSTP,QUIT)
  -d LEVEL[,...] debug level (bash numbers: 16, 0x10, 2#10000) and the original's
                 items P|MIN|MAX, S:, W:, I:, F:, PFIN; 2 or more shows tracebacks
  -A [0|1]       an address matching several VMs acts on all of them
  -L LO|CF|DF|SO|CO  where client and server run (CF: the VNC client here, through
                 an ssh tunnel to the VM on the target; DF: ssh -X; SO: no viewer)
  -n             dry run: print what would run (ssh lines, the VM command), start nothing
  -X             terse output; -V -X: the version number alone
  -D :N[.S]      the X display for viewers here     -M TEXT  printed before the output
  -Y             ssh -A (agent forwarding) to the targets
  -l USER        remote user
  -o SPEC        output: comma list of field names and/or one of table|terse|json
  -h / -H        short / long help (with -t or -a: plugin / action help)
  -V, --version  print the version
  -F -j -s -W -x -Z VALUE, -f -P -y: the original's, accepted with a note

Targets:  [user@]host['(' target-local options ')'] or a host GROUP (CTYS_GROUPS_PATH),
          after [-- '(' options for all targets ')']   (default: localhost)
MACRO:NAME[%FILE][%ECHO|%EVAL] anywhere: replaced from CTYS_MACRO_PATH (ctys-macros)

Examples:
  ctys -t {default} -a CREATE=l:demo,CONSOLE:CLI
  ctys -t {default} -a LIST
  ctys -t {default} -a LIST -o terse,LABEL,UUID
  ctys -t {default} -a CANCEL=l:demo,TIMEOUT:20
  ctys -t {default} -a CREATE=l:vm1 host1'(-d 1)' admin@host2"""

_LONG = """\
Details:
  Options take their value as the next word or attached (-t{default}). Each option may be given
  once; '--' ends the options, every later word is a target.
  -a NAME=SUBOPTS: a suboption is KEY, or KEY:ARGS where ARGS is split at '%'.
    BOOTMODE:CD%/iso/x.iso        -> key BOOTMODE, args CD, /iso/x.iso
    KERNEL:/k%/i%console=ttyS0    -> spaces and '=' are kept inside arguments
    ARGSADD:-device%e1000\\,netdev=n0 -> '\\,' is a literal comma
    KERNEL:/k%/i%console=ttyS0,,115200 -> ',,' too (the original's escape)
  -o: 'table' (default), 'terse' (';'-separated lines) or 'json' selects the format; every
    other item is a field name (LABEL, UUID, MAC, IP, ...) choosing the columns.
  -b 0,2: foreground, the targets one after another.
  Target-local options apply to one target only: host1'(-a CREATE=l:vm1 -d 2)'.
  -- '(-d 1)' h1 h2'(-d 2)': the options for all targets, then a target's own (last wins);
  a group member's options: the group file's CONTEXT, its own, then group'(...)' (ctys-groups).

Exit status: 0 success, 1 error, 2 usage error, 130 interrupted."""


def general_help(long: bool, plugins: Sequence[str] = (), *, default: str) -> str:
    """Help for ``ctys -h`` (``long=False``) or ``ctys -H`` (adds details and plugin list);
    ``default``: the session type used without ``-t`` (its name fills the examples)."""
    parts = [SYNOPSIS, _SHORT.format(default=default)]
    if long:
        parts.append(_LONG.format(default=default))
        listing = ", ".join(plugins) if plugins else "none installed"
        parts.append(f"Installed plugins: {listing}")
    return "\n\n".join(parts) + "\n"
