"""connectapp in another Django site, installed the way a host installs it.

Builds the sdist and the wheel from this repository (`python -m build`), installs the wheel and
the pinned requirements into a fresh virtualenv, and runs examples/host_site/check_host.py there
from a copy of the host project outside the repository (so only the installed connectapp can be
imported): migrations on a PostgreSQL database of its own, the Discogs and Pinterest flows
against the stand-ins, a refresh by a worker of the host's Celery app on the suite's Redis, and
the connections page inside the host's layout.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from psycopg import sql

ROOT = Path(__file__).resolve().parents[2]
HOST_SITE = ROOT / "examples" / "host_site"
PIP_INSTALL = "-m pip install --quiet --disable-pip-version-check"


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


def test_a_host_site_installs_the_wheel_and_runs_connectapp(tmp_path, host_database):
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)])
    (wheel,) = dist.glob("connectapp-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
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
            "-r",
            str(ROOT / "requirements" / "base.txt"),
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
    assert "ok: the host's Celery app routes connectapp's tasks" in result.stdout, report
    # The provider task ran on its own queue, where the host's task routes send it.
    assert "ok: the sweep queued the refresh on the providers queue" in result.stdout, report
    assert "ok: no worker of the default queue ran the refresh" in result.stdout, report
    assert "ok: a worker of the providers queue refreshed the Pinterest link" in result.stdout, (
        report
    )
    assert "ok: admin searches links by email (200)" in result.stdout, report
