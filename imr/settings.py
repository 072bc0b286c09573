"""Settings for IMR Desk, read from the environment (see the README's configuration table).

With nothing set the project runs on embedded defaults under ``var/``: SQLite, a
file-system Celery broker, a file cache and e-mail kept as files (var/mail/). ``DATABASE_URL`` and
``REDIS_URL`` switch to PostgreSQL and Redis. Secrets have no production default:
with ``DJANGO_DEBUG`` off, start-up stops unless they are set.
"""

import os
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env.read_env(BASE_DIR / ".env")  # optional; real environment variables win

DEBUG = env.bool("DJANGO_DEBUG", default=True)
VAR_DIR = Path(env.str("IMR_VAR_DIR", default=str(BASE_DIR / "var")))


def _required(name: str, value):
    """Refuse to start in production mode without a value that has no safe default."""
    if not value:
        raise ImproperlyConfigured(
            f"{name} must be set when DJANGO_DEBUG is off (see the README's configuration table)."
        )
    return value


if DEBUG:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-development-key-do-not-use-in-production")
    ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
else:
    SECRET_KEY = _required("DJANGO_SECRET_KEY", env.str("DJANGO_SECRET_KEY", default=""))
    ALLOWED_HOSTS = _required("DJANGO_ALLOWED_HOSTS", env.list("DJANGO_ALLOWED_HOSTS", default=[]))

CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

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
    "django_filters",
    "django_htmx",
    "django_fsm",
    "auditlog",
    "csp",
    "health_check",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "reviews",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "reviews.middleware.NoStoreMiddleware",
    "reviews.middleware.RefuseNulCharacterMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "reviews.accounts.MfaRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "reviews.middleware.AuditAddressMiddleware",
]

ROOT_URLCONF = "imr.urls"
WSGI_APPLICATION = "imr.wsgi.application"

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
                "reviews.context_processors.navigation",
            ],
        },
    },
]

# Database: SQLite under var/ unless DATABASE_URL names another (PostgreSQL via psycopg 3).
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'imr.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server and the Celery worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, for tests too: a Celery worker thread then shares it under WAL and a
    # busy timeout, where an in-memory database's shared cache fails at once with "table is locked".
    # One file per test run (process), so parallel runs never share one.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-imr-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "reviews:home"
LOGOUT_REDIRECT_URL = "account_login"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "America/Los_Angeles"  # statutory clocks run on California days
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on every request without it
MEDIA_ROOT = VAR_DIR / "media"  # never served by URL: documents go through a permission-checked view
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

if "EMAIL_URL" in env:
    vars().update(env.email_url("EMAIL_URL"))
else:
    # The embedded default: each mail an .eml file under var/mail/, one line on the console per mail
    # (the console backend would print the served letters' PDFs in base64).
    EMAIL_BACKEND = "reviews.mail.FolderEmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="IMR Desk <no-reply@localhost>")

# Celery: Redis when REDIS_URL is set, otherwise kombu's file-system transport under var/broker/.
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
else:
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "results").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"  # the host is ignored; naming one silences a warning
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # broadcast (ping, inspect); else ./control
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'results'}"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300  # the longest task, the letter rendering, has this limit too
# Nothing reads task results: the outbox records what finished. Storing them would make every send
# and every finished task depend on the result backend too (a dead Redis held a request 19 s in it).
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
# A worker waits for its broker however long it is away, at start-up and after losing it, instead
# of exiting: systemd restarts a dead worker, but one that never exits needs no restart.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_HEARTBEAT = 0  # not used by Redis; kept explicit
# A task that runs while the connection is lost is cancelled rather than finished: its message
# was not acknowledged and is delivered again, and the task is safe to run twice.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Redis redelivers a message its worker did not acknowledge (worker killed) after the visibility
# timeout: a little longer than the longest task, never kombu's default hour.
IMR_BROKER_VISIBILITY_TIMEOUT = env.int("IMR_BROKER_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + 60)
IMR_BROKER_SEND_TIMEOUT = 2  # seconds a request may wait on a dead broker at most; the sweep sends later
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": IMR_BROKER_VISIBILITY_TIMEOUT,
        # Look for messages past the visibility timeout every 10 s (kombu: every 10 x 10 s).
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": IMR_BROKER_SEND_TIMEOUT,
        "socket_timeout": 30,  # longer than BRPOP's own 1 s wait; a silent broker is noticed
        "health_check_interval": 25,
        "retry_on_timeout": True,
    }
CELERY_BEAT_SCHEDULE = {
    "deadline-sweep": {"task": "reviews.tasks.deadline_sweep", "schedule": crontab(minute="*/15")},
    "outbox-sweep": {"task": "reviews.tasks.outbox_sweep", "schedule": env.int("IMR_OUTBOX_SWEEP_SECONDS", default=60)},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Sign-in (django-allauth): accounts are made by an admin, users sign in with their username, reset a
# forgotten password by e-mail and set up TOTP two-factor authentication (see reviews/accounts.py).
ACCOUNT_ADAPTER = "reviews.accounts.AccountAdapter"
MFA_ADAPTER = "reviews.accounts.MFAAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]  # signup is closed (the adapter)
ACCOUNT_EMAIL_VERIFICATION = "none"  # an admin enters each address
ACCOUNT_PREVENT_ENUMERATION = True  # a reset asked for an unknown address answers as for a known one
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False  # ... and sends nothing: no mail to addresses strangers type in
ACCOUNT_SESSION_REMEMBER = False  # the session ends with the browser (and after DJANGO_SESSION_COOKIE_AGE)
ACCOUNT_LOGOUT_REDIRECT_URL = LOGOUT_REDIRECT_URL
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"  # links in password-reset e-mails
PASSWORD_RESET_TIMEOUT = 3600  # a reset link works once, within the hour (Django's default: three days)
# Failed sign-ins: after IMR_LOGIN_FAILURES_PER_ACCOUNT for one username, or IMR_LOGIN_FAILURES_PER_ADDRESS
# from one address, within IMR_LOGIN_FAILURE_WINDOW seconds, every attempt is refused, the right password
# too, until the window has passed. A successful sign-in does not count.
IMR_LOGIN_FAILURE_WINDOW = env.int("IMR_LOGIN_FAILURE_WINDOW", default=15 * 60)
IMR_LOGIN_FAILURES_PER_ACCOUNT = env.int("IMR_LOGIN_FAILURES_PER_ACCOUNT", default=5)
IMR_LOGIN_FAILURES_PER_ADDRESS = env.int("IMR_LOGIN_FAILURES_PER_ADDRESS", default=20)
ACCOUNT_RATE_LIMITS = {
    "login_failed": (
        f"{IMR_LOGIN_FAILURES_PER_ADDRESS}/{IMR_LOGIN_FAILURE_WINDOW}s/ip,"
        f"{IMR_LOGIN_FAILURES_PER_ACCOUNT}/{IMR_LOGIN_FAILURE_WINDOW}s/key"
    ),
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_TOLERANCE = 1  # one 30-second period either side: a phone's clock a little off still works
# Two-factor authentication is required of coordinators and admins, and of reviewers once
# IMR_MFA_REVIEWER_GRACE_DAYS have passed since their account was made (until then it is offered after
# each sign-in). IMR_MFA_ENROLMENT_OPTIONAL makes it an offer for everyone: the embedded default's demo
# users can look around without a phone. Production (DJANGO_DEBUG off) ignores it and always requires.
IMR_MFA_REVIEWER_GRACE_DAYS = env.int("IMR_MFA_REVIEWER_GRACE_DAYS", default=14)
IMR_MFA_ENROLMENT_OPTIONAL = DEBUG and env.bool("IMR_MFA_ENROLMENT_OPTIONAL", default=True)

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Content Security Policy: everything from our own origin; no CDN, no inline script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    }
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=8 * 3600)
X_FRAME_OPTIONS = "DENY"  # nothing of ours is framed by a URL (letter previews use srcdoc)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    # WeasyPrint and fontTools narrate every rendering step at INFO.
    "loggers": {name: {"level": "WARNING"} for name in ("weasyprint", "fontTools")},
}

# Program settings.
IMR_BASE_URL = env.str("IMR_BASE_URL", default="http://127.0.0.1:8000")  # for links in e-mails
IMR_ORGANIZATION_NAME = env.str("IMR_ORGANIZATION_NAME", default="IMR Desk Review Organization")
IMR_ORGANIZATION_SHORT_NAME = env.str("IMR_ORGANIZATION_SHORT_NAME", default="IMR Desk")
MFA_TOTP_ISSUER = IMR_ORGANIZATION_SHORT_NAME  # the name authenticator apps show beside the code
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{IMR_ORGANIZATION_SHORT_NAME}] "
IMR_LETTER_LAYOUT = env.str("IMR_LETTER_LAYOUT", default="2016")  # layout of new letters: 2014 or 2016
IMR_REQUIRE_CALIFORNIA_LICENSE = env.bool("IMR_REQUIRE_CALIFORNIA_LICENSE", default=False)
# Reverse proxies in front of the application that append to X-Forwarded-For (0: none, trust REMOTE_ADDR).
IMR_TRUSTED_PROXIES = env.int("IMR_TRUSTED_PROXIES", default=0)
IMR_MAX_UPLOAD_MB = env.int("IMR_MAX_UPLOAD_MB", default=50)
# Pages (PDF) or frames (TIFF) a document may have: counting stops there, so a crafted file cannot take minutes.
IMR_MAX_DOCUMENT_PAGES = env.int("IMR_MAX_DOCUMENT_PAGES", default=3000)

# The outbox (reviews/services/outbox.py): seconds before the sweep acts.
IMR_OUTBOX_RESEND_AFTER = env.int("IMR_OUTBOX_RESEND_AFTER", default=2 * IMR_BROKER_VISIBILITY_TIMEOUT + 60)
IMR_OUTBOX_MAX_SENDS = env.int("IMR_OUTBOX_MAX_SENDS", default=5)  # then the task is given up (letter: failed)
IMR_LETTER_STUCK_AFTER = env.int("IMR_LETTER_STUCK_AFTER", default=2 * IMR_BROKER_VISIBILITY_TIMEOUT + 60)
IMR_LETTER_UNSERVED_AFTER = env.int("IMR_LETTER_UNSERVED_AFTER", default=1800)
IMR_OUTBOX_ALERT_AFTER = env.int("IMR_OUTBOX_ALERT_AFTER", default=300)  # /healthz fails on an older unsent entry
IMR_WORKER_HEARTBEAT_SECONDS = env.int("IMR_WORKER_HEARTBEAT_SECONDS", default=30)  # /healthz wants one within x 3
