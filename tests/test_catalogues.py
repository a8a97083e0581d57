"""The message catalogues are complete and up to date with the templates.

`makemessages` run afresh over each catalogue's sources finds nothing the committed catalogue
lacks, and every entry is translated and not fuzzy (msgfmt --check --statistics).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Each catalogue's folder, and what makemessages must leave out when run there.
CATALOGUES = {
    "connectapp/connections": [],
    ".": ["connectapp", "tests", "examples", "bench", "var", ".venv", "test-artifacts", "build"],
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
    ignored = CATALOGUES[folder]
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / folder, copy, ignore=shutil.ignore_patterns(*ignored, "*.mo"))
    # django-admin, not `python -m django`: the app folder holds a selectors.py.
    command = [Path(sys.executable).parent / "django-admin", "makemessages", "--no-obsolete"]
    command += [f"--locale={language}" for language in LANGUAGES]
    # Without a settings module: makemessages reads only the files under its folder.
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        command, cwd=copy, env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr

    for language in LANGUAGES:
        relative = Path("locale") / language / "LC_MESSAGES" / "django.po"
        assert _entries(copy / relative) == _entries(ROOT / folder / relative), (
            f"{folder}/{relative} is out of date: run makemessages there and translate"
        )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("folder", CATALOGUES)
def test_every_entry_is_translated(folder, language):
    po = ROOT / folder / "locale" / language / "LC_MESSAGES" / "django.po"
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert re.fullmatch(r"\d+ translated messages\.", result.stderr.strip()), result.stderr
