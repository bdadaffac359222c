"""A process that holds a serial console's lock (``claim_console``) without attaching, as
a script's ``SerialConsole`` does: ``python -c HOLDER_CODE <socket path>`` prints ``held``
once it holds it, then sleeps."""

from __future__ import annotations

HOLDER_CODE = (
    "import sys, time; from pathlib import Path\n"
    "from ctys.consoles.serial import claim_console\n"
    "with claim_console(Path(sys.argv[1])):\n"
    "    print('held', flush=True); time.sleep(60)\n"
)
