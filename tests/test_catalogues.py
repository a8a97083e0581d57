"""The message catalogues are complete and up to date with the templates and the code.

`makemessages` run afresh over each catalogue's sources (as scripts/makemessages.py runs it:
the package's catalogue covers all of `connectapp`) finds nothing the committed catalogue
lacks, and every entry is translated and not fuzzy (msgfmt --check --statistics).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import ROOT, run_python

SCRIPT = ROOT / "scripts" / "makemessages.py"
#: Each catalogue's folder, the catalogue below it, and what is left out of the copy it runs in.
CATALOGUES = {
    "connectapp": ("connections", ["__pycache__"]),
    ".": (
        ".",
        [
            "connectapp",
            "tests",
            "examples",
            "bench",
            "scripts",
            "var",
            ".venv",
            "test-artifacts",
            "build",
        ],
    ),
}
LANGUAGES = ["de", "fr", "es"]


def _entries(po: Path) -> str:
    """Return the catalogue without what changes on every run (dates, source line numbers)."""
    text = po.read_text(encoding="utf-8")
    return "\n".join(
        line
        for line in text.splitlines()
        if not line.startswith("#:") and not line.startswith('"POT-Creation-Date')
    )


@pytest.mark.parametrize("folder", CATALOGUES)
def test_makemessages_finds_nothing_new(tmp_path, folder):
    below, ignored = CATALOGUES[folder]
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / folder, copy, ignore=shutil.ignore_patterns(*ignored, "*.mo"))
    # The script configures its own settings: makemessages reads only the files in the copy.
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = run_python(SCRIPT, folder, env=environment, cwd=copy)
    assert result.returncode == 0, result.stderr

    for language in LANGUAGES:
        relative = Path(below) / "locale" / language / "LC_MESSAGES" / "django.po"
        assert _entries(copy / relative) == _entries(ROOT / folder / relative), (
            f"{folder}/{relative} is out of date: run scripts/makemessages.py there and translate"
        )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("folder", CATALOGUES)
def test_every_entry_is_translated(folder, language):
    po = ROOT / folder / CATALOGUES[folder][0] / "locale" / language / "LC_MESSAGES" / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert re.fullmatch(r"\d+ translated messages\.", result.stderr.strip()), result.stderr
