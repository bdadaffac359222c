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
  -c ON|OFF      use of the inventory (the original's cacheDB option; OFF = -C off;
                 ON[,BOTH|LOCAL|REMOTE] is the default, ONLY is not supported)
  --inventory PATH  the inventory file (ctys' SQLite name-service cache)
  -p DIR         the original's DB directory: ENUMERATE also writes DIR/enum.fdb
  -C MODE        cache control: on|off|rebuild|clear|list
  -g WxH[+X+Y]   console window geometry
  -r RES         resolution (where the plugin supports it)
  -b MODE[,SYNC] 1|on = background, 0|off = foreground
  -z pty|nopty|N pseudo-terminal for remote targets (ssh -t); default: one when stdin
                 is a terminal and the action attaches a console (CONNECT, CONSOLE:CLI)
  -S SIG,...     signals to ignore (INT,TSTP,QUIT)
  -d LEVEL       debug level; 2 or more shows tracebacks
  -l USER        remote user
  -o SPEC        output: comma list of field names and/or one of table|terse|json
  -h / -H        short / long help (with -t or -a: plugin / action help)
  -V, --version  print the version

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
  -b 0,2 (the original's foreground+sync form) is accepted; only the first field is used.
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
