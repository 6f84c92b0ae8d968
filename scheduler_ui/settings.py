"""Settings, all read from the environment (see .env.example)."""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

# Lets the admin's classes take type parameters at run time, as the stubs say.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state: the SQLite database and broker, the local endpoint's schedulers,
# the local login, beat's schedule, collected static files.
VAR_DIR = Path(os.environ.get("LOOKOUT_VAR_DIR") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in (os.environ.get(name) or default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0")
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG=0")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "axes",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "scheduler_ui.schedulers",
    "scheduler_ui.local_endpoint",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "scheduler_ui.security.content_security_policy",
    "scheduler_ui.security.refuse_nul_in_headers",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "scheduler_ui.schedulers.access.LoginRequired",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a lock-out noticed during the login into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "scheduler_ui.urls"
WSGI_APPLICATION = "scheduler_ui.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'console.sqlite3'}",
        # Seconds a connection is kept for the next request or task (0: closed
        # after each); a kept one is checked before it is used again.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Every request and task repeats the same few queries (session, user,
    # permissions, a submission's claim): on a kept connection, psycopg has
    # PostgreSQL parse and plan each of them once (at its fifth use), not every
    # time. Django leaves this off for poolers that cannot keep prepared
    # statements (PgBouncer before 1.21 in transaction mode). Options given in
    # DATABASE_URL (?sslmode=require) are kept.
    DATABASES["default"]["OPTIONS"] = {
        "server_side_binding": True,
        "prepare_threshold": 5,
        **DATABASES["default"].get("OPTIONS", {}),
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so the web
    # process and the workers queue up instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    # A file, not memory, so that worker processes started by tests share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

# --- Security -----------------------------------------------------------------
# Throttling (django-axes): after LOGIN_FAILURE_LIMIT failed logins for one
# username from one address, that pair is locked out for LOGIN_LOCKOUT_MINUTES,
# every further failure starting the wait again; a success clears the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "scheduler_ui.schedulers.access.PermissionsBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env_float("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "scheduler_ui.security.client_ip"
# Logins and logouts are in the console's own audit trail, not in axes' log.
AXES_DISABLE_ACCESS_LOG = True

SESSION_COOKIE_AGE = int(env_float("DJANGO_SESSION_HOURS", 8) * 3600)
# The pages read the CSRF token from a <meta> tag, never from the cookie.
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "scheduler_ui.schedulers.access.csrf_failure"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Behind a TLS-terminating reverse proxy (one hop), trust its X-Forwarded-Proto
# (and X-Forwarded-For, see security.client_ip).
BEHIND_PROXY = env_bool("DJANGO_BEHIND_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# Only a domain submitted to the browsers' preload list is affected.
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # Failed logins and lock-outs, not every successful login.
        "axes": {"level": "WARNING"},
        # One line per outcome of a call to AWS (see schedulers/submitting.py).
        "scheduler_ui": {"level": "INFO"},
    },
}

# --- Amazon Lookout for Equipment -------------------------------------------
# Credentials come from the standard AWS chain (environment, profile, role),
# never from the database.
LOOKOUT_ENDPOINT_URL = os.environ.get("LOOKOUT_ENDPOINT_URL") or None
AWS_REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
LOOKOUT_CONNECT_TIMEOUT = env_float("LOOKOUT_CONNECT_TIMEOUT", 5)
LOOKOUT_READ_TIMEOUT = env_float("LOOKOUT_READ_TIMEOUT", 30)


# How long one task may run before its worker process is replaced.
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90)

# Delivery: the worker retries throttling, internal errors and lost connections
# (botocore does not retry at all), with exponential backoff and jitter.
LOOKOUT_MAX_ATTEMPTS = env_int("LOOKOUT_MAX_ATTEMPTS", 8)
LOOKOUT_RETRY_BASE_SECONDS = env_float("LOOKOUT_RETRY_BASE_SECONDS", 2)
LOOKOUT_RETRY_CAP_SECONDS = env_float("LOOKOUT_RETRY_CAP_SECONDS", 60)
LOOKOUT_RETRY_DEADLINE_SECONDS = env_float("LOOKOUT_RETRY_DEADLINE_SECONDS", 1800)
# Queued work untouched for this long is sent to the broker again, at most
# LOOKOUT_MAX_DISPATCHES times in all.
LOOKOUT_REDISPATCH_AFTER_SECONDS = env_float("LOOKOUT_REDISPATCH_AFTER_SECONDS", 120)
LOOKOUT_MAX_DISPATCHES = env_int("LOOKOUT_MAX_DISPATCHES", 10)
LOOKOUT_SWEEP_INTERVAL_SECONDS = env_float("LOOKOUT_SWEEP_INTERVAL_SECONDS", 30)
LOOKOUT_FOLLOW_INTERVAL_SECONDS = env_float("LOOKOUT_FOLLOW_INTERVAL_SECONDS", 5)

# An attempt not finished after this long is taken to have lost its worker;
# longer than a task may run (CELERY_TASK_TIME_LIMIT).
LOOKOUT_ATTEMPT_LEASE_SECONDS = env_float(
    "LOOKOUT_ATTEMPT_LEASE_SECONDS", CELERY_TASK_TIME_LIMIT + 30
)

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or (
    f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup closes the database connections around every task
# unless this is set; then scheduler_ui/celery.py applies Django's own rule
# (DATABASE_CONN_MAX_AGE) instead, as around a web request.
CELERY_DB_REUSE_MAX = 1_000_000
# A task's message is acknowledged only when the task has finished, and given
# back if its worker process dies; each worker process holds one message at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The soft limit interrupts the task, the hard one then kills its process. Keep
# them above LOOKOUT_CONNECT_TIMEOUT + LOOKOUT_READ_TIMEOUT, so that a hung call
# ends as a timeout the worker records and retries.
CELERY_TASK_SOFT_TIME_LIMIT = max(CELERY_TASK_TIME_LIMIT - 10, CELERY_TASK_TIME_LIMIT * 0.8)
# Redis gives an unacknowledged message to another worker after this long; it
# must exceed the longest countdown (LOOKOUT_RETRY_CAP_SECONDS) and time limit.
# The socket timeouts bound a publish while Redis is down or hung (see
# submitting.dispatch): the web request that accepted a submission never hangs.
REDIS_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
BROKER_IS_REDIS = CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
CELERY_BROKER_TRANSPORT_OPTIONS = REDIS_TRANSPORT_OPTIONS if BROKER_IS_REDIS else {}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = os.environ.get("CELERY_BEAT_SCHEDULE_FILENAME") or str(
    VAR_DIR / "celerybeat-schedule"
)
# Two queues, and every worker reads both in turn. Submissions go to Celery's
# default one, and so does the sweep: behind them, it never mistakes a submission
# still waiting its turn for a lost one. The status sync and a refresh someone
# asked for have a queue of their own, so that a burst of creates (a thousand
# take 100 s at 10 calls a second) does not hold them up. -Q gives a worker one.
CELERY_TASK_QUEUES = [
    Queue("celery", routing_key="celery"),
    Queue("status", routing_key="status"),
]
CELERY_TASK_ROUTES = {
    "scheduler_ui.schedulers.tasks.follow_statuses": {"queue": "status"},
    "scheduler_ui.schedulers.tasks.refresh_status": {"queue": "status"},
}
# Each periodic task expires after one interval: one that waited longer (the
# sweep behind a burst of submissions, or every worker process busy) is dropped,
# as the next is on its way; otherwise all that waited would run at once.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "sweep": {
        "task": "scheduler_ui.schedulers.tasks.sweep",
        "schedule": LOOKOUT_SWEEP_INTERVAL_SECONDS,
        "options": {"expires": LOOKOUT_SWEEP_INTERVAL_SECONDS},
    },
    "follow-statuses": {
        "task": "scheduler_ui.schedulers.tasks.follow_statuses",
        "schedule": LOOKOUT_FOLLOW_INTERVAL_SECONDS,
        "options": {"expires": LOOKOUT_FOLLOW_INTERVAL_SECONDS},
    },
}

# At most this many calls to AWS per second, across every worker (0: no limit),
# counted in Redis: by default the broker's, when the broker is Redis. Without
# Redis (the embedded SQLite broker) there is no limit.
LOOKOUT_CALLS_PER_SECOND = env_float("LOOKOUT_CALLS_PER_SECOND", 10)
LOOKOUT_RATE_LIMIT_REDIS_URL = os.environ.get("LOOKOUT_RATE_LIMIT_REDIS_URL") or (
    CELERY_BROKER_URL if BROKER_IS_REDIS else ""
)
