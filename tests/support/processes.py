"""Another Python process started by a test: `manage.py`, a script or a snippet, run by the
interpreter running the tests, with the environment the test gives it."""

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

#: The repository's top folder, where manage.py is.
ROOT = Path(__file__).resolve().parents[2]


def run_python(
    *args: str | Path, env: Mapping[str, str], cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Return how this Python ended when run with `args` in `cwd` and only `env` as its
    environment: its exit code and what it printed. Over two minutes is a hang, and fails."""
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=120
    )
