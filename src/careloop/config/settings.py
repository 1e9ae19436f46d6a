"""Settings from environment variables. Nothing secret lives in the repository.

- ``DATABASE_URL``: any dj-database-url URL; default a SQLite file in the data folder.
- ``CARELOOP_DATA_DIR``: the data folder (default ``./data``).
- ``CARELOOP_SECRET_KEY``: Django secret key; when unset, a random key is generated once and kept in
  ``$CARELOOP_DATA_DIR/secret_key`` (mode 0600), so a fresh demo needs no set-up and no secret is committed.
- ``CARELOOP_DEBUG``, ``CARELOOP_ALLOWED_HOSTS``, ``CARELOOP_TIME_ZONE``, ``CARELOOP_SESSION_IDLE_SECONDS``,
  ``CARELOOP_LOCKOUT_ATTEMPTS``, ``CARELOOP_LOCKOUT_SECONDS``.
- ``CARELOOP_TOKEN_CACHE_SECONDS``, ``CARELOOP_CONN_HEALTH_CHECKS``, ``CARELOOP_SQLITE_WAL_AUTOCHECKPOINT``:
  see docs/operations.md.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("CARELOOP_DATA_DIR", "data")).resolve()


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key() -> str:
    key = os.environ.get("CARELOOP_SECRET_KEY")
    if key:
        return key
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("CARELOOP_DEBUG", False)
ALLOWED_HOSTS = os.environ.get("CARELOOP_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_htmx",
    "careloop.core",
    "careloop.clinics",
    "careloop.accounts",
    "careloop.audit",
    "careloop.registry",
    "careloop.risk",
    "careloop.programs",
    "careloop.worklist",
    "careloop.transitions",
    "careloop.careplans",
    "careloop.access",
    "careloop.web",
    "careloop.quality",
    "careloop.billing",
    "careloop.compliance",
    "careloop.insights",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "careloop.accounts.middleware.IdleTimeoutMiddleware",
    "careloop.accounts.middleware.RequireMFAMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "careloop.config.urls"
WSGI_APPLICATION = "careloop.config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "careloop.web.context.navigation",
            ],
        },
    }
]


def _databases() -> dict[str, Any]:
    default_url = f"sqlite:///{DATA_DIR / 'careloop.sqlite3'}"
    url = os.environ.get("DATABASE_URL") or default_url
    if url.startswith("sqlite"):
        DATA_DIR.mkdir(parents=True, exist_ok=True)
    db: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=0))
    if db["ENGINE"] == "django.db.backends.sqlite3":
        db["OPTIONS"] = {
            # WAL lets readers work while one writer commits; IMMEDIATE takes the write lock at BEGIN so
            # concurrent writers queue on the busy timeout instead of failing with "database is locked".
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456;"
                + (f" PRAGMA wal_autocheckpoint={int(os.environ['CARELOOP_SQLITE_WAL_AUTOCHECKPOINT'])};"
                   if os.environ.get("CARELOOP_SQLITE_WAL_AUTOCHECKPOINT") else "")
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
        db.setdefault("TEST", {})
        # Tests use a file, not Django's shared-cache in-memory database: live-server and thread tests then get
        # the same WAL + IMMEDIATE locking as production (shared cache locks tables and ignores busy timeouts).
        # One file per test process, so two test runs sharing a data folder never share a database.
        db["TEST"]["NAME"] = os.environ.get("CARELOOP_TEST_SQLITE") or str(
            DATA_DIR / f"test-careloop-{os.getpid()}.sqlite3")
        # 0 by default (see below); a server with a fixed pool of threads (WSGI) may keep connections open.
        db["CONN_MAX_AGE"] = int(os.environ.get("CARELOOP_CONN_MAX_AGE", "0"))
    else:
        # 0 by default: under ASGI, sync views run on executor threads and persistent connections would pile up.
        db["CONN_MAX_AGE"] = int(os.environ.get("CARELOOP_CONN_MAX_AGE", "0"))
        db["CONN_HEALTH_CHECKS"] = os.environ.get("CARELOOP_CONN_HEALTH_CHECKS", "1") != "0"
        # Server-side binding with psycopg's prepared statements (a query is prepared on a connection after 5
        # runs): the HL7 listener's and workers' fixed-shape statements skip PostgreSQL's parse and plan
        # (in process: -23% server CPU, -12% client CPU per message). ``CARELOOP_PG_SERVER_BINDING=0`` turns it off
        # (e.g. behind a transaction-mode pooler without prepared-statement support).
        if os.environ.get("CARELOOP_PG_SERVER_BINDING", "1") != "0":
            db.setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
    return {"default": db}


DATABASES = _databases()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions end after a period of inactivity (accounts.middleware.IdleTimeoutMiddleware); the stored session
# lives longer than the idle limit so the middleware, not expiry, ends it and can say why.
SESSION_IDLE_SECONDS = int(os.environ.get("CARELOOP_SESSION_IDLE_SECONDS", "900"))
SESSION_COOKIE_AGE = max(SESSION_IDLE_SECONDS * 4, 12 * 3600)
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _env_bool("CARELOOP_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LOCKOUT_ATTEMPTS = int(os.environ.get("CARELOOP_LOCKOUT_ATTEMPTS", "5"))
LOCKOUT_SECONDS = int(os.environ.get("CARELOOP_LOCKOUT_SECONDS", "900"))
# Seconds a server process keeps a bearer token -> user lookup (0: off). A token revoked, or a user deactivated,
# by another process stops working within this bound (docs/operations.md).
API_TOKEN_CACHE_SECONDS = int(os.environ.get("CARELOOP_TOKEN_CACHE_SECONDS", "30"))

OTP_TOTP_ISSUER = "careloop"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("CARELOOP_TIME_ZONE", "America/New_York")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CARELOOP_LOG_LEVEL", "WARNING")},
}

NINJA_PAGINATION_PER_PAGE = 50

# Task priority takes each patient's risk tier from the risk app.
WORKLIST_RISK_TIER_PROVIDER = "careloop.risk.selectors.risk_tiers"
# The billing run's APCM evidence (capabilities, monthly activity): a billing.evidence.EvidenceProvider factory.
BILLING_EVIDENCE_PROVIDER = "careloop.compliance.provider.ComplianceEvidence"
