"""The Python interpreters the host-site tests can make virtualenvs with.

Django 6 needs Python 3.12 or newer, and a machine's default `python3` may be older. This
looks, in order, at CONNECTAPP_TEST_PYTHONS (interpreters separated by the path separator),
the Python running the tests, `python3.NN` on PATH and pyenv's versions
(`$PYENV_ROOT/versions`, `~/.pyenv/versions`), and keeps each one that runs and can make a
virtualenv with pip. Standard library only: `.ci/run` runs it before anything is installed
(`python3 -m tests.host_site.pythons 3.12`) to stop early when no Python is new enough.
"""

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

ENVIRONMENT_VARIABLE = "CONNECTAPP_TEST_PYTHONS"
#: Asked of each candidate: it runs, it has `venv` and a pip for `ensurepip` to install, and
#: it says its version.
PROBE = "import ensurepip, sys, venv; ensurepip.version(); print(*sys.version_info[:2])"


def candidates() -> list[str]:
    """Return every interpreter worth probing, the most wanted first, without repeats."""
    found = [part for part in os.environ.get(ENVIRONMENT_VARIABLE, "").split(os.pathsep) if part]
    found.append(sys.executable)
    found += filter(None, (shutil.which(f"python3.{minor}") for minor in range(20, 10, -1)))
    for root in (os.environ.get("PYENV_ROOT"), Path.home() / ".pyenv"):
        if root:
            found += sorted(map(str, Path(root).glob("versions/*/bin/python3")), reverse=True)
    return list(dict.fromkeys(found))


@functools.cache
def usable() -> dict[tuple[int, int], str]:
    """Return a working interpreter for each Python version found, the first found winning.

    A pyenv shim on PATH for a version pyenv has not selected exits with an error, and a
    Debian Python without `python3-venv` has no `ensurepip`: the probe leaves both out."""
    versions: dict[tuple[int, int], str] = {}
    for interpreter in candidates():
        try:
            probe = subprocess.run(
                [interpreter, "-c", PROBE], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            major, minor = map(int, probe.stdout.split())
            versions.setdefault((major, minor), interpreter)
    return versions


def pick(minimum: tuple[int, int], preferred: tuple[int, int] | None = None) -> str | None:
    """Return the interpreter of `preferred` when found, else of the newest version at least
    `minimum`, else None."""
    versions = usable()
    if preferred in versions and preferred >= minimum:
        return versions[preferred]
    newest = max((version for version in versions if version >= minimum), default=None)
    return versions[newest] if newest else None


def explain(minimum: tuple[int, int]) -> str:
    """Say what was looked at and how to point the tests at a Python of at least `minimum`."""
    found = ", ".join(f"{'.'.join(map(str, v))} ({p})" for v, p in sorted(usable().items()))
    wanted = ".".join(map(str, minimum))
    return (
        f"no Python {wanted} or newer that can make a virtualenv with pip was found "
        f"(found: {found or 'none'}). Install one (python{wanted} on PATH or pyenv) or set "
        f"{ENVIRONMENT_VARIABLE} to its path."
    )


def main(arguments: list[str]) -> int:
    """Print the Pythons found; exit 1 when none is at least the version given (e.g. 3.12)."""
    for version, interpreter in sorted(usable().items()):
        print(f"Python {'.'.join(map(str, version))}: {interpreter}")
    if arguments:
        minimum = tuple(map(int, arguments[0].split(".")))
        if pick(minimum) is None:
            print(explain(minimum), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
