"""Update a message catalogue: `python scripts/makemessages.py FOLDER` (see `make catalogues`).

`makemessages` files each string under the `locale` folder of the folder it runs in. The
package has one catalogue for all of it (pages, errors, admin, providers' scope words, the
sandbox), kept in `connectapp/connections/locale`, where Django finds it in any site that
installs the app; so in `connectapp` this runs makemessages with that folder as the only
locale path. The standalone project's catalogue is `locale/` at the top: its templates and its
code (`standalone/`), without the package.

Run it in FOLDER itself (or a copy of it): it reads and writes below the working directory.
"""

import os
import sys

import django
from django.conf import settings
from django.core.management import call_command

LANGUAGES = ["de", "fr", "es"]
#: Each catalogue's folder: where its entries go (below the folder), and what it leaves out.
CATALOGUES = {
    "connectapp": ("connections/locale", []),
    ".": (
        "locale",
        # The package below the top folder, not every folder of that name (the project's own
        # templates/connectapp overrides the app's templates and has words of its own).
        [
            "connectapp/?*",
            "tests",
            "examples",
            "bench",
            "scripts",
            "var",
            "test-artifacts",
            "build",
        ],
    ),
}


def make_messages(folder: str) -> None:
    """Update the catalogue of `folder` (a key of `CATALOGUES`) from the working directory."""
    locale_path, ignored = CATALOGUES[folder]
    # Absolute, as Django 6.1 makes it anyway: Django 5.2 files the strings of a relative
    # path's folders apart from the rest, and the catalogue would come out in another order.
    settings.configure(LOCALE_PATHS=[os.path.abspath(locale_path)])
    django.setup()
    call_command(
        "makemessages", locale=LANGUAGES, no_obsolete=True, ignore_patterns=ignored, verbosity=0
    )


if __name__ == "__main__":
    make_messages(sys.argv[1])
