"""Time one Tab: ``ctys-complete`` (warm catalog cache) against ``python -c pass``.

    .venv/bin/python bench/completion.py [--runs N]

Rows: a suboption key (``-a CREATE=l:x,CON``: the catalog only), an option, a target (ssh
files, group folders) and a label (the inventory opened read-only), and the cold call
that rebuilds the catalog from the plugin registry. Target: a warm completion within
100 ms of ``python -c pass`` (median).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from benchlib import med, ms, run_quiet, wall

TARGET_S = 0.100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run for CI: tiny sizes, one run"
    )
    args = parser.parse_args()
    if args.quick:
        args.runs = 1
    helper = str(Path(sys.executable).parent / "ctys-complete")
    with tempfile.TemporaryDirectory() as work:
        # Modules compiled once, as after an install (the sandbox may forbid bytecode).
        env = {**os.environ, "XDG_CACHE_HOME": work, "PYTHONPYCACHEPREFIX": f"{work}/pycache"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        base = med(wall([sys.executable, "-c", "pass"], args.runs, env)) or 0.0
        rows: list[tuple[str, float]] = []
        for name, line in (
            ("suboption key", "ctys -t QEMU -a CREATE=l:x,CON"),
            ("option", "ctys -"),
            ("target", "ctys -a LIST h"),
            ("label", "ctys -a CREATE=l:"),
        ):
            argv = [helper, "--shell", "bash", "--", line]
            rows.append((name, med(wall(argv, args.runs, env)) or 0.0))
        cold: list[float] = []
        for _ in range(5):
            Path(work, "ctys", "completion.json").unlink(missing_ok=True)
            t0 = time.perf_counter()
            run_quiet([helper, "--shell", "bash", "--", "ctys -a "], env)
            cold.append(time.perf_counter() - t0)
    print(f"{'call':<28} {'median ms':>10} {'over python -c pass':>20}")
    print(f"{'python -c pass':<28} {ms(base):>10} {'':>20}")
    worst = 0.0
    for name, value in rows:
        worst = max(worst, value - base)
        print(f"{'ctys-complete ' + name:<28} {ms(value):>10} {ms(value - base):>20}")
    cold_ms = ms(med(cold))
    print(f"{'ctys-complete, cold cache':<28} {cold_ms:>10} {ms((med(cold) or 0) - base):>20}")
    verdict = "PASS" if worst <= TARGET_S else "FAIL"
    print(
        f"warm completion over python -c pass: {ms(worst)} ms (target <= {ms(TARGET_S)}): {verdict}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
