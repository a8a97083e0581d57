"""The standalone project's settings, read entirely from the environment (a `.env` file at the
top of the repository is honoured).

The variables and their defaults are the contract in the README. With no configuration at all
and `DEBUG=true`, the app runs on an embedded SQLite file and a file-system Celery broker.
"""

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

# The repository's top folder: manage.py, templates/, locale/, .env and var/ are there.
BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. It is required when DEBUG is off; set it in the environment "
            "or in .env (for example the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`)."
        )
    SECRET_KEY = "connectapp-development-only-secret-key-never-use-in-production"


def _token_encryption_keys() -> list[str]:
    keys = env.list("TOKEN_ENCRYPTION_KEYS", default=[])
    if not keys:
        if not DEBUG:
            raise ImproperlyConfigured(
                "TOKEN_ENCRYPTION_KEYS is not set. It is required when DEBUG is off: a comma-"
                "separated list of Fernet keys, the first of which encrypts (generate one with "
                "`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)."
            )
        digest = hashlib.sha256(b"connectapp development token key:" + SECRET_KEY.encode()).digest()
        return [base64.urlsafe_b64encode(digest).decode()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"TOKEN_ENCRYPTION_KEYS: key number {position} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from None
    return keys


CONNECTAPP_TOKEN_ENCRYPTION_KEYS = _token_encryption_keys()

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "connectapp.connections",
    "connectapp.sandbox",
    "ninja",  # the API's browsable docs, served from local static files
    "axes",
    # The project itself, for its `rundemo` command.
    "standalone",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the collected static files in production; `runserver` serves them under DEBUG.
    *([] if DEBUG else ["whitenoise.middleware.WhiteNoiseMiddleware"]),
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language of each page: the one chosen with the switch, else the browser's.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a refused sign-in into the "too many attempts" page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "standalone.urls"
WSGI_APPLICATION = "standalone.wsgi.application"

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
            ],
        },
    },
]

_EMBEDDED_DATABASE = f"sqlite:///{VAR_DIR / 'connectapp.sqlite3'}"
DATABASES = {"default": env.db("DATABASE_URL", default=_EMBEDDED_DATABASE)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # The demo's web server, worker and beat share one file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    # Web and worker processes keep their connection for this many seconds (0: one per request
    # or task; behind PgBouncer in transaction pooling, see the README), checked before reuse.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DISABLE_SERVER_SIDE_CURSORS", default=False
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's own cache. connectapp keeps no state in it: its cross-process state is on the shared
# store (`CONNECTAPP_REDIS_URL` below).
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://connectapp")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "connections:index"
LOGOUT_REDIRECT_URL = "login"

# Failed sign-ins are throttled by django-axes, per account and per client address (each on
# its own): after CONNECTAPP_SIGNIN_FAILURE_LIMIT failures, that account, and that address, can
# not sign in for CONNECTAPP_SIGNIN_COOLOFF_SECONDS, even with the right password. The address
# is REMOTE_ADDR: behind a reverse proxy, the server must put the client's address there.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("CONNECTAPP_SIGNIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(seconds=env.int("CONNECTAPP_SIGNIN_COOLOFF_SECONDS", default=900))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

LANGUAGE_CODE = "en"
# The languages connectapp's catalogues cover; the switch in the page header offers these.
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("es", "Español")]
# The standalone project's own pages (sign-in, its layout); the apps ship their own catalogues.
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Sessions live in the database: flow secrets kept in them never reach the browser.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.console.EmailBackend"
    if DEBUG or not env.str("EMAIL_HOST", default="")
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="connectapp@localhost")

# --- Celery -------------------------------------------------------------------------------
# The embedded default is kombu's file-system transport: a broker that needs no server, shared
# by the demo's web process, worker and beat through a folder.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
# How long a task queued with a countdown (a retry) may wait; longer than the longest backoff.
CONNECTAPP_BROKER_VISIBILITY_TIMEOUT = env.int(
    "CONNECTAPP_BROKER_VISIBILITY_TIMEOUT_SECONDS", default=2 * 60 * 60
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_folder = VAR_DIR / "broker"
    _broker_folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_folder),
        "data_folder_out": str(_broker_folder),
        "control_folder": str(_broker_folder / "control"),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CONNECTAPP_BROKER_VISIBILITY_TIMEOUT}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes the database connection around every task unless this is set;
# connectapp closes it instead when Django would after a request (`connectapp.celery`): broken
# or older than CONN_MAX_AGE. A worker process renews it at the latest after this many tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Workers log through `LOGGING` below, so its secret-redacting filter applies to them too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Tasks that call a provider have a queue of their own: a slow provider fills that queue, and
# the sweeps (and anything else on the default queue) keep running. Run workers for each of
# `-Q celery`, `-Q providers` and `-Q webhooks`, or one with `-Q celery,providers,webhooks` (the
# demo). connectapp's router sends each task to its queue, here as on any host
# (connectapp.connections.queues).
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = ["connectapp.connections.queues.route_task"]
CONNECTAPP_PROVIDER_QUEUE = env.str("CONNECTAPP_PROVIDER_QUEUE", default="providers")
# Webhook deliveries have their own queue, so a slow receiver never holds back a refresh.
CONNECTAPP_WEBHOOK_QUEUE = env.str("CONNECTAPP_WEBHOOK_QUEUE", default="webhooks")
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name), routing_key=name)
    for name in (CELERY_TASK_DEFAULT_QUEUE, CONNECTAPP_PROVIDER_QUEUE, CONNECTAPP_WEBHOOK_QUEUE)
)
# acks_late tasks: a worker holds few unacknowledged messages, so a lost worker returns few.
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=4)
# A provider task is stopped (and retried) when it runs longer than this; the hard limit kills
# the process a little later if the soft one could not stop it.
CONNECTAPP_TASK_SOFT_TIME_LIMIT_SECONDS = env.int(
    "CONNECTAPP_TASK_SOFT_TIME_LIMIT_SECONDS", default=60
)
CONNECTAPP_SWEEP_TIME_LIMIT_SECONDS = env.int(
    "CONNECTAPP_SWEEP_TIME_LIMIT_SECONDS", default=15 * 60
)
CONNECTAPP_SWEEP_BATCH_SIZE = env.int("CONNECTAPP_SWEEP_BATCH_SIZE", default=5000)

CONNECTAPP_VERIFY_INTERVAL_SECONDS = env.int(
    "CONNECTAPP_VERIFY_INTERVAL_SECONDS", default=6 * 60 * 60
)
CONNECTAPP_REFRESH_SWEEP_SECONDS = env.int("CONNECTAPP_REFRESH_SWEEP_SECONDS", default=60)
CONNECTAPP_REFRESH_WINDOW_SECONDS = env.int(
    "CONNECTAPP_REFRESH_WINDOW_SECONDS", default=3 * 24 * 60 * 60
)
# A link whose refresh was queued longer ago than this, and never finished (its message was
# lost), is queued again by the sweep. Longer than a task's whole retry schedule between two
# attempts, which renew it.
CONNECTAPP_REFRESH_LEASE_SECONDS = env.int("CONNECTAPP_REFRESH_LEASE_SECONDS", default=3 * 60 * 60)
# A link whose refresh token expires within this asks its user to reconnect in time.
CONNECTAPP_RECONNECT_WARNING_SECONDS = env.int(
    "CONNECTAPP_RECONNECT_WARNING_SECONDS", default=14 * 24 * 60 * 60
)
# Routine refresh events (a token refreshed as planned) are deleted after this many days;
# every change of a link's state is kept. Pruned in small batches on the schedule.
CONNECTAPP_EVENT_RETENTION_DAYS = env.int("CONNECTAPP_EVENT_RETENTION_DAYS", default=90)
CONNECTAPP_WEBHOOK_RETENTION_DAYS = env.int("CONNECTAPP_WEBHOOK_RETENTION_DAYS", default=30)
_EVENT_PRUNE_SECONDS = 60 * 60
CELERY_BEAT_SCHEDULE = {
    "refresh-due-links": {
        "task": "connectapp.connections.tasks.refresh_due",
        "schedule": CONNECTAPP_REFRESH_SWEEP_SECONDS,
        # A sweep nobody ran in time is dropped: the next one finds the same links.
        "options": {"expires": CONNECTAPP_REFRESH_SWEEP_SECONDS},
    },
    "verify-links": {
        "task": "connectapp.connections.tasks.verify_all",
        "schedule": CONNECTAPP_VERIFY_INTERVAL_SECONDS,
        "options": {"expires": CONNECTAPP_VERIFY_INTERVAL_SECONDS},
    },
    "prune-events": {
        "task": "connectapp.connections.tasks.prune_events",
        "schedule": _EVENT_PRUNE_SECONDS,
        "options": {"expires": _EVENT_PRUNE_SECONDS},
    },
}
CELERY_BEAT_SCHEDULE["webhook-sweep"] = {
    "task": "connectapp.connections.tasks.sweep_webhooks",
    "schedule": 60.0,
    "options": {"expires": 60.0},
}

# --- Webhooks -----------------------------------------------------------------------------
# Each attempt's deadline (connect and each read, and the whole answer), and how much of an
# answer is read at most.
CONNECTAPP_WEBHOOK_TIMEOUT = env.float("CONNECTAPP_WEBHOOK_TIMEOUT", default=10.0)
CONNECTAPP_WEBHOOK_MAX_RESPONSE_BYTES = env.int(
    "CONNECTAPP_WEBHOOK_MAX_RESPONSE_BYTES", default=64 * 1024
)
# Pauses before each retry (with +-10% jitter; a longer Retry-After wins): the Standard
# Webhooks schedule, more than 24 hours in all. The delivery fails after the last.
CONNECTAPP_WEBHOOK_RETRY_SCHEDULE_SECONDS = env.list(
    "CONNECTAPP_WEBHOOK_RETRY_SCHEDULE_SECONDS",
    cast=float,
    default=[5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
)
# A retry further off than this waits in the database for the sweep, not in the broker.
CONNECTAPP_WEBHOOK_MAX_COUNTDOWN = env.float("CONNECTAPP_WEBHOOK_MAX_COUNTDOWN", default=300.0)
# A published message not consumed after this long was lost: the sweep publishes it again.
CONNECTAPP_WEBHOOK_LEASE_SECONDS = env.float("CONNECTAPP_WEBHOOK_LEASE_SECONDS", default=15 * 60)
# Attempts in flight at once per endpoint; more wait, so a slow receiver holds back no other.
CONNECTAPP_WEBHOOK_ENDPOINT_CONCURRENCY = env.int(
    "CONNECTAPP_WEBHOOK_ENDPOINT_CONCURRENCY", default=4
)
# An endpoint that has failed every attempt for this long is disabled and the admins told.
CONNECTAPP_WEBHOOK_DISABLE_AFTER_SECONDS = env.int(
    "CONNECTAPP_WEBHOOK_DISABLE_AFTER_SECONDS", default=3 * 24 * 60 * 60
)
# Endpoints resolving to loopback, link-local or private addresses are refused unless this
# is set (SSRF); development allows them.
CONNECTAPP_WEBHOOK_ALLOW_PRIVATE = env.bool("CONNECTAPP_WEBHOOK_ALLOW_PRIVATE", default=DEBUG)

# Requests to each provider allowed per period, shared by every worker (`name=count/period`,
# period one of s, m, h, comma-separated). Discogs allows 60 authenticated requests a minute.
CONNECTAPP_RATE_LIMITS = env.dict("CONNECTAPP_RATE_LIMITS", default={"discogs": "60/m"})
# The store every process shares (the rotated-token write-ahead, rate limits, outcome
# counters): Redis. The default is the broker when it is Redis; with no Redis (the demo) they
# are kept per process.
CONNECTAPP_REDIS_URL = env.str(
    "CONNECTAPP_REDIS_URL",
    default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)
# Brokers that reach no worker on another machine (the embedded one, and in-process).
_LOCAL_BROKERS = ("filesystem://", "memory://")
if not DEBUG and not CONNECTAPP_REDIS_URL and not CELERY_BROKER_URL.startswith(_LOCAL_BROKERS):
    raise ImproperlyConfigured(
        "CONNECTAPP_REDIS_URL is not set and the broker is not Redis. Workers reached through "
        "this broker may run on other machines, and the rotated tokens written ahead of the "
        "database would stay in one process's memory. Set CONNECTAPP_REDIS_URL to a Redis that "
        "every web and worker process reaches (for example redis://redis:6379/1)."
    )

# --- Providers ----------------------------------------------------------------------------
CONNECTAPP_SANDBOX = env.bool("CONNECTAPP_SANDBOX", default=False)
if CONNECTAPP_SANDBOX and not DEBUG:
    raise ImproperlyConfigured(
        "CONNECTAPP_SANDBOX is on while DEBUG is off. The sandbox points the providers at "
        "built-in stand-ins that anyone can drive (list and revoke grants, inject outages); it "
        "is for the demo and tests only. Turn it off in production, or set DEBUG=true for a demo."
    )
# Where the built-in stand-ins are reached (by browsers and by workers) in sandbox mode.
CONNECTAPP_SANDBOX_URL = env.str("CONNECTAPP_SANDBOX_URL", default="http://127.0.0.1:8000/sandbox")
# The absolute URL of this site, when the callback URLs must not be derived from the request.
CONNECTAPP_PUBLIC_URL = env.str("CONNECTAPP_PUBLIC_URL", default="")
CONNECTAPP_FLOW_TTL_SECONDS = env.int("CONNECTAPP_FLOW_TTL_SECONDS", default=600)
# How many flows one user may start per window of seconds ("0/60" turns the limit off).
CONNECTAPP_CONNECT_RATE_LIMIT = env.str("CONNECTAPP_CONNECT_RATE_LIMIT", default="10/60")
# Seconds one provider call may take in all (connecting and every read), and the most bytes
# of an answer read before it is dropped as unusable.
CONNECTAPP_HTTP_TIMEOUT = env.float("CONNECTAPP_HTTP_TIMEOUT", default=10.0)
CONNECTAPP_HTTP_MAX_RESPONSE_BYTES = env.int("CONNECTAPP_HTTP_MAX_RESPONSE_BYTES", default=1 << 20)
CONNECTAPP_USER_AGENT = env.str(
    "CONNECTAPP_USER_AGENT", default="connectapp/1.0 +https://localhost"
)
CONNECTAPP_PROVIDERS_FILE = env.str("CONNECTAPP_PROVIDERS_FILE", default="")

# --- The backend API (/api/v1/) -----------------------------------------------------------
# Requests one API key may make per window of seconds, counted on the shared Redis.
CONNECTAPP_API_RATE_LIMIT = env.str("CONNECTAPP_API_RATE_LIMIT", default="600/60")
# Origins (scheme://host[:port]) a connect session may send people back to.
CONNECTAPP_CONNECT_RETURN_ORIGINS = env.list("CONNECTAPP_CONNECT_RETURN_ORIGINS", default=[])
# How long a connect session's URL may be opened (at most 30 minutes, however long this is).
CONNECTAPP_CONNECT_SESSION_TTL_SECONDS = env.int(
    "CONNECTAPP_CONNECT_SESSION_TTL_SECONDS", default=30 * 60
)
# The proxy's limits: the largest answer passed on, and the deadline of one proxied call
# (retries included).
CONNECTAPP_PROXY_MAX_BYTES = env.int("CONNECTAPP_PROXY_MAX_BYTES", default=10 * 1024 * 1024)
CONNECTAPP_PROXY_DEADLINE_SECONDS = env.float("CONNECTAPP_PROXY_DEADLINE_SECONDS", default=30.0)

# The providers' credentials, addresses and scopes, from the variables of the same names
# (DISCOGS_CONSUMER_KEY sets CONNECTAPP_DISCOGS_CONSUMER_KEY, …), set only when given: connectapp's
# defaults apply to the others, the providers' own addresses, or in sandbox mode the stand-ins.
_PROVIDER_VARIABLES = {
    "DISCOGS_CONSUMER_KEY": env.str,
    "DISCOGS_CONSUMER_SECRET": env.str,
    "DISCOGS_API_URL": env.str,
    "DISCOGS_AUTHORIZE_URL": env.str,
    "DISCOGS_SIGNATURE_METHOD": env.str,
    "PINTEREST_CLIENT_ID": env.str,
    "PINTEREST_CLIENT_SECRET": env.str,
    "PINTEREST_API_URL": env.str,
    "PINTEREST_AUTHORIZE_URL": env.str,
    "PINTEREST_SCOPES": env.list,
}
globals().update(
    {
        f"CONNECTAPP_{name}": read(name)
        for name, read in _PROVIDER_VARIABLES.items()
        if env.str(name, default="")
    }
)

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "connectapp.redaction.RedactSecretsFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
