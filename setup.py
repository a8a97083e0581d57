"""Compile the message catalogues while building, so wheels carry the .mo files.

setuptools has no step for gettext catalogues; this runs GNU gettext's `msgfmt` (what Django's
`compilemessages` runs) on every `locale/*/LC_MESSAGES/django.po` inside the package before the
files are copied into the build. Everything else is declared in pyproject.toml.
"""

import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    """Build the package with every message catalogue compiled next to its source."""

    def run(self) -> None:
        """Compile each django.po to django.mo, then build as usual."""
        msgfmt = shutil.which("msgfmt")
        catalogues = sorted(Path("connectapp").glob("**/locale/*/LC_MESSAGES/django.po"))
        if catalogues and not msgfmt:
            raise SystemExit("building connectapp needs GNU gettext's msgfmt (apt install gettext)")
        for po in catalogues:
            subprocess.run(
                [msgfmt, "--check", "-o", str(po.with_suffix(".mo")), str(po)], check=True
            )
        super().run()


setup(cmdclass={"build_py": BuildWithCatalogues})
