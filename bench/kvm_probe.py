"""Benchmark: how long the host detection takes (the KVM probe, cold and cached).

Run as ``.venv/bin/python bench/kvm_probe.py [--runs N]``.  Measures

1. the firmware KVM probe (``probe_kvm``) on the host's qemu-system-x86_64, with its verdict;
2. ``detect_host`` with an empty capability cache, then with the cache it filled;
3. ``kvm_state`` under ``CTYS_ACCEL=tcg`` (no probing at all).

The e2e tests assert what the verdicts say; the times are reported here.  It is a benchmark,
not a test: nothing is raised when a time is long.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchlib import med, ms
from ctys.plugins.qemu.host.capcache import CapCache
from ctys.plugins.qemu.host.detect import detect_host
from ctys.plugins.qemu.host.kvmprobe import check_dev_kvm, kvm_state, probe_kvm


def _timed(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _detect_round(binary: Path, cache_path: Path) -> tuple[float, float, float]:
    """Seconds of detect_host cold, cached, and of kvm_state under CTYS_ACCEL=tcg."""
    cold = _timed(lambda: detect_host(cache=CapCache(cache_path)))[0]
    cached = _timed(lambda: detect_host(cache=CapCache(cache_path)))[0]
    os.environ["CTYS_ACCEL"] = "tcg"
    try:
        disabled = _timed(lambda: kvm_state(binary, CapCache(cache_path)))[0]
    finally:
        del os.environ["CTYS_ACCEL"]
    return cold, cached, disabled


def main() -> int:
    """Print the medians of ``--runs`` runs of each measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run for CI: tiny sizes, one run"
    )
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    found = shutil.which("qemu-system-x86_64")
    if found is None:
        print("qemu-system-x86_64 not installed", file=sys.stderr)
        return 1
    binary = Path(found).resolve()
    probe: list[float] = []
    cold: list[float] = []
    cached: list[float] = []
    disabled: list[float] = []
    verdict = check_dev_kvm()
    for _ in range(runs):
        if check_dev_kvm() is None:
            seconds, state = _timed(lambda: probe_kvm(binary))
            probe.append(seconds)
            verdict = state  # type: ignore[assignment]
        with tempfile.TemporaryDirectory() as tmp:
            times = _detect_round(binary, Path(tmp) / "caps.json")
        cold.append(times[0])
        cached.append(times[1])
        disabled.append(times[2])
    print(f"verdict: {verdict.reason if verdict else 'no verdict'}")
    print(f"probe_kvm            {ms(med(probe)):>8} ms")
    print(f"detect_host, cold    {ms(med(cold)):>8} ms")
    print(f"detect_host, cached  {ms(med(cached)):>8} ms")
    print(f"CTYS_ACCEL=tcg       {ms(med(disabled), 2):>8} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
