"""DomainFlow settings: one module, driven by the environment (django-environ).

Every value a deployment changes comes from an environment variable; a bad
value stops start-up with django-environ's error rather than being guessed.
"""
from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from domainflow.database_url import database_from_url
from domainflow.embedded_db import embedded_data_dir, embedded_database

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["127.0.0.1", "localhost"]),
    CSRF_TRUSTED_ORIGINS=(list, []),
    DOMAINFLOW_ALLOW_PRIVATE_TARGETS=(bool, False),
    DOMAINFLOW_PRODUCTION=(bool, False),
    DOMAINFLOW_JOB_LEASE_SECONDS=(float, 60),
    DOMAINFLOW_JOB_MAX_ATTEMPTS=(int, 5),
    DOMAINFLOW_RETRY_BACKOFF_S=(float, 5),
    DOMAINFLOW_RETRY_BACKOFF_MAX_S=(float, 300),
    DOMAINFLOW_DB_STATEMENT_TIMEOUT_S=(int, 30),
    DOMAINFLOW_TXMETRICS_FLUSH_ROWS=(int, 500),
    DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S=(float, 1.0),
    CONN_MAX_AGE=(int, 60),
)

PRODUCTION = env("DOMAINFLOW_PRODUCTION")
DEBUG = env("DEBUG")

if PRODUCTION:
    # No fallback: a production process without a real secret must not start.
    SECRET_KEY = env("SECRET_KEY")
else:
    SECRET_KEY = env("SECRET_KEY", default="domainflow-development-only-not-secret")

ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "campaigns",
    "txmetrics",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files from the WSGI process itself (compressed, cached): no separate file server needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "domainflow.urls"
WSGI_APPLICATION = "domainflow.wsgi.application"

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

if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": database_from_url(env.str("DATABASE_URL"))}
elif PRODUCTION:
    raise ImproperlyConfigured(
        "DATABASE_URL is required when DOMAINFLOW_PRODUCTION=1 (the embedded PostgreSQL is for development only)."
    )
else:
    DATABASES = {"default": embedded_database(embedded_data_dir(env.str("DOMAINFLOW_DATA_DIR", default="")))}

DATABASES["default"].update(
    {
        # Services own their transactions (safe_transaction); requests never wrap them.
        "ATOMIC_REQUESTS": False,
        "CONN_MAX_AGE": env("CONN_MAX_AGE"),
        # A worker whose connection was terminated reconnects on its next job.
        "CONN_HEALTH_CHECKS": True,
    }
)
DATABASES["default"].setdefault("OPTIONS", {})
# JIT off: PostgreSQL compiles a plan to machine code whenever its estimated cost passes
# jit_above_cost, and the statements that feed a phase or count a batch, run thousands of times
# a minute, can be estimated that high (statistics lag behind rows written this fast); each
# compilation cost more CPU than the statement itself (docs/DECISIONS.md, "JIT off").
DATABASES["default"]["OPTIONS"]["options"] = (
    f"-c statement_timeout={env('DOMAINFLOW_DB_STATEMENT_TIMEOUT_S') * 1000}"
    " -c idle_in_transaction_session_timeout=300000 -c jit=off"
)
# Tests get their own database beside the configured one, so each checkout's suite can run at once.
DATABASES["default"]["TEST"] = {
    "NAME": env.str("DOMAINFLOW_TEST_DB_NAME", default=f"test_{DATABASES['default']['NAME'] or 'domainflow'}")
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Outside production, whitenoise also serves straight from the apps' static folders, so a
# checkout needs no collectstatic; production serves only what collectstatic gathered
# (compressed, with content-hashed names cached for a year).
WHITENOISE_USE_FINDERS = not PRODUCTION
if PRODUCTION:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
else:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing one
STATICFILES_DIRS = [BASE_DIR / "domainflow" / "static"]

LOGIN_URL = "/admin/login/"
LOGIN_REDIRECT_URL = "/"

DOMAINFLOW_ALLOW_PRIVATE_TARGETS = env("DOMAINFLOW_ALLOW_PRIVATE_TARGETS")
# A CA bundle for verifying TLS in the HTTP phase, in addition to nothing else (empty: the system's).
DOMAINFLOW_HTTP_CA_FILE = env.str("DOMAINFLOW_HTTP_CA_FILE", default="")
# Decompressed page bytes one worker process may hold at once, across all its batches (pass it to
# campaigns.http.fetch_many as max_buffered_bytes); 256 MiB is campaigns.http's own default.
DOMAINFLOW_HTTP_MAX_BUFFERED_BYTES = env.int("DOMAINFLOW_HTTP_MAX_BUFFERED_BYTES", default=256 * 1024 * 1024)
if DOMAINFLOW_HTTP_MAX_BUFFERED_BYTES < 1:
    raise ImproperlyConfigured("DOMAINFLOW_HTTP_MAX_BUFFERED_BYTES must be a positive number of bytes.")
DOMAINFLOW_DB_STATEMENT_TIMEOUT_S = env("DOMAINFLOW_DB_STATEMENT_TIMEOUT_S")
DOMAINFLOW_JOB_LEASE_SECONDS = env("DOMAINFLOW_JOB_LEASE_SECONDS")
# Success metrics are buffered and written in batches (txmetrics.buffer); failures never are.
DOMAINFLOW_TXMETRICS_FLUSH_ROWS = env("DOMAINFLOW_TXMETRICS_FLUSH_ROWS")
DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S = env("DOMAINFLOW_TXMETRICS_FLUSH_INTERVAL_S")
DOMAINFLOW_JOB_MAX_ATTEMPTS = env("DOMAINFLOW_JOB_MAX_ATTEMPTS")
DOMAINFLOW_RETRY_BACKOFF_S = env("DOMAINFLOW_RETRY_BACKOFF_S")
DOMAINFLOW_RETRY_BACKOFF_MAX_S = env("DOMAINFLOW_RETRY_BACKOFF_MAX_S")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"domainflow": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")}},
}

if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    X_FRAME_OPTIONS = "DENY"
