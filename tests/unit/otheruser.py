"""Running ctys as another local user (``nobody``) from a unit test: root ignores file
modes, so "cannot read" and "cannot write" are only real for someone else. Our venv's
python lives under /root (closed to others): the system python of the same version runs
our sources and site-packages instead. Skips where that is not possible."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PYTHON = "/usr/bin/python3"
USER = "nobody"


@pytest.fixture
def other_user() -> Iterator[str]:
    """``nobody``, when we are root with runuser and a system python like ours."""
    if os.getuid() != 0 or not shutil.which("runuser") or not Path(PYTHON).exists():
        pytest.skip("needs root, runuser and /usr/bin/python3")
    probe = subprocess.run(
        [PYTHON, "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.stdout.strip() != str(sys.version_info[:2]):
        pytest.skip("no system python of our version for another user")
    yield USER


def run_as(
    user: str, module: str, *args: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """``python -m``-like run of ``module``'s ``main(argv)`` as ``user``, with only ``env``
    (plus PATH, HOME=/ and our sources on PYTHONPATH) in its environment."""
    site = next(Path(sys.prefix, "lib").glob("python3*/site-packages"))
    code = f"import sys\nfrom {module} import main\nsys.exit(main(sys.argv[1:]))\n"
    words = [f"{key}={value}" for key, value in env.items()]
    return subprocess.run(
        ["runuser", "-u", user, "--", "env", "-i", "PATH=/usr/bin:/bin", "HOME=/",
         f"PYTHONPATH={SRC}:{site}", *words, PYTHON, "-c", code, *args],
        capture_output=True, text=True, timeout=60, check=False, cwd="/",
    )  # fmt: skip
