"""connectapp in another Django site, installed the way a host installs it.

Builds the sdist and the wheel from this repository (`python -m build`) once, checks that the
wheel carries the apps and not the repository's standalone project, then, for each
Django feature release the package supports (the 5.2 LTS and the two newest, each at its
latest patch release), installs the wheel with that Django into a fresh virtualenv (only what
the wheel declares, at the versions requirements/base.txt pins) and runs
examples/host_site/check_host.py there from a copy of the host project outside the repository
(so only the installed connectapp can be imported): Django's system checks, migrations on a
PostgreSQL database of its own, the Discogs and Pinterest flows against the stand-ins, a
refresh by a worker of the host's Celery app on the suite's Redis, and the connections page
inside the host's layout. Django 6 needs Python 3.12 or newer: tests/host_site/pythons.py
finds one, and the test fails when there is none.
"""

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from psycopg import sql

from tests.host_site import pythons

ROOT = Path(__file__).resolve().parents[2]
HOST_SITE = ROOT / "examples" / "host_site"
#: Each Django feature release the host site runs on: the Python it needs at least, and the one
#: preferred here so that the runs together cover every Python the package claims.
DJANGO_SERIES = {
    "5.2": ((3, 11), (3, 11)),
    "6.0": ((3, 12), (3, 12)),
    "6.1": ((3, 12), (3, 13)),
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def host_database():
    """A PostgreSQL database for the host site, named after the suite's, dropped afterwards."""
    default = settings.DATABASES["default"]
    name = f"{default['NAME'].removeprefix('test_')}_host_site"
    server = {
        "host": default["HOST"] or "127.0.0.1",
        "port": default["PORT"] or 5432,
        "user": default["USER"],
        "password": default["PASSWORD"],
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield {"name": name, **server}
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _run(command: list, **options) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, **options)
    assert result.returncode == 0, f"{command[:4]} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """connectapp's wheel, built once for every host-site run."""
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)])
    (built,) = dist.glob("connectapp-*.whl")
    return built


def test_the_wheel_holds_the_apps_and_not_the_standalone_project(wheel):
    """The settings, URLs, WSGI/ASGI entry points and `rundemo` stay in the repository
    (`standalone/`): a host site has its own, and would need the `[standalone]` extras."""
    with zipfile.ZipFile(wheel) as archive:
        files = set(archive.namelist())

    assert "connectapp/celery.py" in files
    assert "connectapp/connections/management/commands/connections.py" in files
    assert not {name for name in files if name.startswith("standalone/")}
    assert not files & {
        f"connectapp/{module}.py" for module in ("settings", "urls", "wsgi", "asgi")
    }
    assert not {name for name in files if name.endswith("/rundemo.py")}


@pytest.fixture(scope="session")
def pins(tmp_path_factory) -> Path:
    """requirements/base.txt as pip constraints, without Django (each run picks its own) and
    without extras (constraints take none): a run installs only what the wheel declares, at
    the versions the standalone project is tested with."""
    lines = (ROOT / "requirements" / "base.txt").read_text().splitlines()
    kept = [
        re.sub(r"\[.*?\]", "", line)
        for line in lines
        if not re.match(r"django\s*[=<>~!]", line, re.IGNORECASE)
    ]
    constraints = tmp_path_factory.mktemp("pins") / "constraints.txt"
    constraints.write_text("\n".join(kept) + "\n")
    return constraints


@pytest.mark.parametrize("series", DJANGO_SERIES)
def test_a_host_site_installs_the_wheel_and_runs_connectapp(
    series, wheel, pins, tmp_path, host_database
):
    minimum, preferred = DJANGO_SERIES[series]
    interpreter = pythons.pick(minimum, preferred)
    if interpreter is None:
        pytest.fail(
            f"Django {series} needs Python {minimum[0]}.{minimum[1]}+: " + pythons.explain(minimum)
        )
    venv = tmp_path / "venv"
    _run([interpreter, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    _run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"{wheel}[redis]",
            f"Django~={series}.0",
            # The host's own database driver.
            "psycopg[binary]",
            "--constraint",
            str(pins),
        ]
    )
    host = shutil.copytree(HOST_SITE, tmp_path / "host_site")
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "HOST_SITE_URL": f"http://127.0.0.1:{_free_port()}",
        "HOST_SITE_SECRET_KEY": secrets.token_urlsafe(40),
        "HOST_SITE_TOKEN_KEYS": Fernet.generate_key().decode(),
        "HOST_SITE_BROKER_URL": settings.CELERY_BROKER_URL,
        "HOST_SITE_DATABASE_NAME": host_database["name"],
        "HOST_SITE_DATABASE_HOST": host_database["host"],
        "HOST_SITE_DATABASE_PORT": str(host_database["port"]),
        "HOST_SITE_DATABASE_USER": host_database["user"],
        "HOST_SITE_DATABASE_PASSWORD": host_database["password"],
    }

    result = subprocess.run(
        [python, "check_host.py"],
        cwd=host,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )

    report = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, report
    assert "host site: every check passed" in result.stdout, report
    assert "ok: connectapp comes from the wheel" in result.stdout, report
    assert f"ok: Django {series}." in result.stdout, report
    assert "ok: Django's system checks find nothing" in result.stdout, report
    assert "ok: the host's Celery app routes connectapp's tasks" in result.stdout, report
    # The provider task ran on its own queue, where the host's task routes send it.
    assert "ok: the sweep queued the refresh on the providers queue" in result.stdout, report
    assert "ok: no worker of the default queue ran the refresh" in result.stdout, report
    assert "ok: a worker of the providers queue refreshed the Pinterest link" in result.stdout, (
        report
    )
    assert "ok: admin searches links by email (200)" in result.stdout, report
    assert "ok: the link's admin page offers its actions as buttons" in result.stdout, report
