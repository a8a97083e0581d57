"""Settings of the test authorization server: django-oauth-toolkit, not our code.

It runs in its own process with its own SQLite file (`OAUTH_SERVER_DATABASE`), and imports
nothing of connectapp, so the tests talk to an OAuth 2.0 server the way they would to any
provider's.
"""

import os

DEBUG = False
SECRET_KEY = "test-authorization-server-only"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "oauth2_provider",
    # This package, as an app: its sign-in template is found like the toolkit's own.
    "tests.oauth_server",
]
# What its two pages (sign-in, and the toolkit's consent) need: a session, a signed-in user and
# CSRF protection. Neither needs a context processor: the templates engine's defaults suffice.
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "tests.oauth_server.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["OAUTH_SERVER_DATABASE"],
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
USE_TZ = True
LOGIN_URL = "/accounts/login/"

OAUTH2_PROVIDER = {
    "SCOPES": {"profile": "See your profile", "boards": "See your boards", "api": "Call the API"},
    "DEFAULT_SCOPES": ["profile"],
    "PKCE_REQUIRED": True,
    "ROTATE_REFRESH_TOKEN": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
}
