"""The host site's settings: its own choices, and connectapp's under the CONNECTAPP_ prefix."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SITE_URL = os.environ.get("HOST_SITE_URL", "http://127.0.0.1:8100")

SECRET_KEY = os.environ["HOST_SITE_SECRET_KEY"]
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "members",
    "connectapp.connections",
    "connectapp.sandbox",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "host_site.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("HOST_SITE_DATABASE_NAME", "host_site"),
        "HOST": os.environ.get("HOST_SITE_DATABASE_HOST", "127.0.0.1"),
        "PORT": os.environ.get("HOST_SITE_DATABASE_PORT", "5432"),
        "USER": os.environ.get("HOST_SITE_DATABASE_USER", "postgres"),
        "PASSWORD": os.environ.get("HOST_SITE_DATABASE_PASSWORD", ""),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "members.Member"
LOGIN_URL = "/sign-in/"
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Europe/Berlin"
STATIC_URL = "assets/"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

CELERY_BROKER_URL = os.environ.get("HOST_SITE_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_TASK_IGNORE_RESULT = True
# connectapp's tasks go to the queues it documents (providers, webhooks): its router says which.
CELERY_TASK_ROUTES = ["connectapp.connections.queues.route_task"]

# connectapp, configured as DESIGN.md's "In another Django site" says: one prefix, Python values.
CONNECTAPP_TOKEN_ENCRYPTION_KEYS = os.environ["HOST_SITE_TOKEN_KEYS"].split(",")
CONNECTAPP_SANDBOX = True
# The stand-ins are on outside DEBUG on purpose in this test site; the check says so otherwise.
SILENCED_SYSTEM_CHECKS = ["connectapp.E005"]
CONNECTAPP_SANDBOX_URL = f"{SITE_URL}/sandbox"
CONNECTAPP_REDIS_URL = CELERY_BROKER_URL
CONNECTAPP_USER_AGENT = "host-site/1.0 +https://host.example"
# Every Pinterest link is due for refresh, so the sweep on the host's worker refreshes it.
CONNECTAPP_REFRESH_WINDOW_SECONDS = 400 * 24 * 60 * 60
CONNECTAPP_FLOW_TTL_SECONDS = 300
