"""Settings, all read from the environment (see .env.example)."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

# Lets the admin's classes take type parameters at run time, as the stubs say.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)


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
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "scheduler_ui.schedulers",
    "scheduler_ui.local_endpoint",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
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
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"botocore": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
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
# A task's message is acknowledged only when the task has finished, and given
# back if its worker process dies; each worker process holds one message at a time.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 10
# Redis gives an unacknowledged message to another worker after this long; it
# must exceed the longest countdown (LOOKOUT_RETRY_CAP_SECONDS) and time limit.
REDIS_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
CELERY_BROKER_TRANSPORT_OPTIONS = (
    REDIS_TRANSPORT_OPTIONS if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else {}
)
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = os.environ.get("CELERY_BEAT_SCHEDULE_FILENAME") or str(
    VAR_DIR / "celerybeat-schedule"
)
CELERY_BEAT_SCHEDULE = {
    "sweep": {
        "task": "scheduler_ui.schedulers.tasks.sweep",
        "schedule": LOOKOUT_SWEEP_INTERVAL_SECONDS,
    },
    "follow-statuses": {
        "task": "scheduler_ui.schedulers.tasks.follow_statuses",
        "schedule": LOOKOUT_FOLLOW_INTERVAL_SECONDS,
    },
}
