"""Settings: twelve-factor, read from ROLLBOOK_* environment variables.

The embedded default needs nothing: a SQLite file (WAL mode, busy timeout) in the data dir,
a local-memory cache, and jobs run on a background thread of the serving process. Setting
ROLLBOOK_DATABASE_URL to a PostgreSQL URL and ROLLBOOK_REDIS_URL switches to the shared setup
(psycopg 3, Redis cache, Celery workers through Redis) without code changes.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url

from rollbook.lib import secretfile


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _secret_key(data_dir: Path) -> str:
    """The secret key from the environment, or one generated once into the data dir."""
    from_env = os.environ.get("ROLLBOOK_SECRET_KEY", "").strip()
    if from_env:
        return from_env
    path = data_dir / "secret_key"
    existing = secretfile.read_secret(path)
    if existing:
        return existing
    # When two processes start at once, exactly one key is stored and both use it.
    return secretfile.create_once(path, secrets.token_urlsafe(50))


DATA_DIR = Path(os.environ.get("ROLLBOOK_DATA_DIR", "./var")).resolve()
SECRET_KEY = _secret_key(DATA_DIR)
DEBUG = _env_bool("ROLLBOOK_DEBUG")
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("ROLLBOOK_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if host.strip()
]
CSRF_TRUSTED_ORIGINS = [
    origin.strip()
    for origin in os.environ.get("ROLLBOOK_CSRF_TRUSTED_ORIGINS", "").split(",")
    if origin.strip()
]

# ---------------------------------------------------------------- database
SQLITE_BUSY_TIMEOUT_S = 20
_default_db_url = f"sqlite:///{DATA_DIR / 'rollbook.sqlite3'}"
DATABASE_URL = os.environ.get("ROLLBOOK_DATABASE_URL", "").strip() or _default_db_url
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        "timeout": SQLITE_BUSY_TIMEOUT_S,
        # IMMEDIATE: a write transaction takes the write lock at BEGIN, so two writers queue
        # on the busy timeout instead of failing with "database is locked" mid-transaction.
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000};"
            "PRAGMA foreign_keys=ON;"
        ),
    }
    if _db["NAME"] and _db["NAME"] != ":memory:":
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Tests on a file too, not Django's in-memory database: its shared cache answers "table is
    # locked" at once to a second thread instead of waiting, unlike the real thing.
    _db["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
elif "postgresql" in _db["ENGINE"]:
    # Foreign-key checks run as cached plans; planned once while a table was small, a generic
    # plan keeps scanning the table for ever. Custom plans use the index (bench/RESULTS.md).
    _db.setdefault("OPTIONS", {})["options"] = "-c plan_cache_mode=force_custom_plan"
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------- cache, broker, jobs
REDIS_URL = os.environ.get("ROLLBOOK_REDIS_URL", "").strip()
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "rollbook",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "rollbook",
        }
    }
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "rollbook"
# "embedded": jobs run on a background thread of the serving process; "celery": through the
# broker to `rollbook worker`. Redis configured means celery unless said otherwise.
JOBS_RUNNER = os.environ.get("ROLLBOOK_JOBS_RUNNER", "celery" if REDIS_URL else "embedded")

# ---------------------------------------------------------------- HTTP limits
MAX_BODY_BYTES = _env_int("ROLLBOOK_MAX_BODY_BYTES", 10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# ---------------------------------------------------------------- SIS feeds (IMS Enterprise)
# Every default an operator may want to change; see src/rollbook/sis_import/README.md.
SIS: dict[str, Any] = {
    "ORG": os.environ.get("ROLLBOOK_SIS_ORG", "SIS"),
    # email_local | email | logon_id | sctid | email_id
    "USERNAME_SOURCE": os.environ.get("ROLLBOOK_SIS_USERNAME_SOURCE", "email_local"),
    "USERNAME_FALLBACK_SOURCEDID": _env_bool("ROLLBOOK_SIS_USERNAME_FALLBACK_SOURCEDID", True),
    "MATCH_BY_USERNAME": _env_bool("ROLLBOOK_SIS_MATCH_BY_USERNAME", True),
    "LOCAL_PASSWORDS": _env_bool("ROLLBOOK_SIS_LOCAL_PASSWORDS", False),
    # nothing | deactivate | unenroll
    "PERSON_DELETE": os.environ.get("ROLLBOOK_SIS_PERSON_DELETE", "deactivate"),
    "COURSE_KEY_TEMPLATE": os.environ.get(
        "ROLLBOOK_SIS_COURSE_KEY_TEMPLATE", "course-v1:{org}+{crn}+{term}"
    ),
    "COURSE_TITLE_TEMPLATE": os.environ.get("ROLLBOOK_SIS_COURSE_TITLE_TEMPLATE", "{full}"),
    "MODES": [
        mode.strip()
        for mode in os.environ.get("ROLLBOOK_SIS_MODES", "audit,verified,honor").split(",")
        if mode.strip()
    ],
    "DEFAULT_MODE": os.environ.get("ROLLBOOK_SIS_DEFAULT_MODE", "audit"),
    "FORCE_NAMES": _env_bool("ROLLBOOK_SIS_FORCE_NAMES", False),
    # Comma-separated term ids or fnmatch patterns (201740, 2017*); empty allows every term.
    "TERM_ALLOW": os.environ.get("ROLLBOOK_SIS_TERM_ALLOW", ""),
    "TERM_DENY": os.environ.get("ROLLBOOK_SIS_TERM_DENY", ""),
    # roletype:outcome pairs; outcomes: learner or a course role name; missing means unmapped.
    "ROLE_MAP": os.environ.get(
        "ROLLBOOK_SIS_ROLE_MAP",
        "01:learner,04:learner,02:instructor,03:staff,05:staff,07:staff,08:limited_staff",
    ),
    "DROP_THRESHOLD": float(os.environ.get("ROLLBOOK_SIS_DROP_THRESHOLD", "0.10")),
    # Cross-listed sections: meta (the parent mirrors its children) or merge (the children's
    # people move into the parent and come back when a child leaves).
    "CROSSLIST_MODE": os.environ.get("ROLLBOOK_SIS_CROSSLIST_MODE", "meta"),
    "CROSSLIST_KEY_TEMPLATE": os.environ.get(
        "ROLLBOOK_SIS_CROSSLIST_KEY_TEMPLATE", "course-v1:{org}+{xlsid}+{term}"
    ),
    # Tokens: {xlsid}, {crn list}, {term}, {prefix}, and the first child's {short}, {long},
    # {full}. The title freezes once someone edits it by hand.
    "CROSSLIST_TITLE_TEMPLATE": os.environ.get(
        "ROLLBOOK_SIS_CROSSLIST_TITLE_TEMPLATE", "{xlsid} - {crn list}"
    ),
    "CROSSLIST_PREFIX": os.environ.get("ROLLBOOK_SIS_CROSSLIST_PREFIX", "XLS "),
    # Live-feed drop safety: drops of a term within the window past DROP_THRESHOLD of its SIS
    # enrollments are held until approved.
    "LIVE_DROP_WINDOW_MINUTES": _env_int("ROLLBOOK_SIS_LIVE_DROP_WINDOW_MINUTES", 60),
    "LIVE_DROP_MINIMUM": _env_int("ROLLBOOK_SIS_LIVE_DROP_MINIMUM", 20),
    # When set, each SIS person's SCTID (or sourcedid) is the account's key in this org, and
    # that org's program enrollments waiting for the key link to the account.
    "EXTERNAL_ID_ORG": os.environ.get("ROLLBOOK_SIS_EXTERNAL_ID_ORG", ""),
    "EXTERNAL_ID_SOURCE": os.environ.get("ROLLBOOK_SIS_EXTERNAL_ID_SOURCE", "sctid"),
    "MAX_FILE_BYTES": _env_int("ROLLBOOK_SIS_MAX_FILE_BYTES", 2 * 1024 * 1024 * 1024),
    # OneRoster 1.2 CSV zips (ADR 0016). Enrollment role (teacher-secondary: a teacher whose
    # `primary` is false) -> outcome, as ROLE_MAP; unmapped roles are reported and skipped.
    "ONEROSTER_ROLE_MAP": os.environ.get(
        "ROLLBOOK_SIS_ONEROSTER_ROLE_MAP",
        "student:learner,teacher:instructor,teacher-secondary:staff,aide:staff,"
        "administrator:staff,proctor:limited_staff",
    ),
    # username | email | email_local | sourcedid | identifier
    "ONEROSTER_USERNAME_SOURCE": os.environ.get(
        "ROLLBOOK_SIS_ONEROSTER_USERNAME_SOURCE", "username"
    ),
    # auto: the class sourcedId when it is a course key, else course-v1:{org}+{code}+{term}.
    "ONEROSTER_COURSE_KEY_TEMPLATE": os.environ.get(
        "ROLLBOOK_SIS_ONEROSTER_COURSE_KEY_TEMPLATE", "auto"
    ),
    "ZIP_MAX_MEMBERS": _env_int("ROLLBOOK_SIS_ZIP_MAX_MEMBERS", 64),
    "ZIP_MAX_UNZIPPED_BYTES": _env_int(
        "ROLLBOOK_SIS_ZIP_MAX_UNZIPPED_BYTES", 4 * 1024 * 1024 * 1024
    ),
}

# ---------------------------------------------------------------- course content access
CONTENT: dict[str, Any] = {
    # PUT .../structure bodies: 10,000 blocks and more are normal.
    "STRUCTURE_MAX_BYTES": _env_int("ROLLBOOK_CONTENT_STRUCTURE_MAX_BYTES", 32 * 1024 * 1024),
}
# Django's own cap on a body read into memory: the largest per-route limit (the body-size
# middleware enforces each route's own limit before the body is read).
DATA_UPLOAD_MAX_MEMORY_SIZE = max(MAX_BODY_BYTES, int(CONTENT["STRUCTURE_MAX_BYTES"]))

# ---------------------------------------------------------------- program enrollments
PROGRAMS: dict[str, Any] = {
    # Records per program (course) enrollment write: 25, as Open edX's clients expect.
    "MAX_RECORDS": _env_int("ROLLBOOK_PROGRAMS_MAX_RECORDS", 25),
    # Keys per POST .../link (bigger files: the CSV upload, a job).
    "LINK_MAX_RECORDS": _env_int("ROLLBOOK_PROGRAMS_LINK_MAX_RECORDS", 1000),
}

# ---------------------------------------------------------------- certificates
CERTIFICATES: dict[str, Any] = {
    # The public verify page (/certificates/{verify_uuid}): requests per client address in a
    # fixed window, "N/second", "N/minute" or "N/hour" (a bare N is per minute; 0 is no
    # limit). Parsed by certificates/verify.py, which names this variable when it is wrong.
    "VERIFY_RATE": os.environ.get("ROLLBOOK_CERT_VERIFY_RATE", "60/minute"),
    # The largest credential POST /api/v1/credentials/verify and `rollbook certificates
    # verify` read (413 / exit 2 above it).
    "CREDENTIAL_MAX_BYTES": _env_int("ROLLBOOK_CERT_CREDENTIAL_MAX_BYTES", 256 * 1024),
}
# Where the service is reached from outside (no trailing slash): verifiable credentials name
# their issuer and its key by URLs under it, so it must be the address verifiers use.
PUBLIC_URL = (
    os.environ.get("ROLLBOOK_PUBLIC_URL", "").strip().rstrip("/") or "http://127.0.0.1:8000"
)
# The issuer's Ed25519 key as a Multikey secretKeyMultibase ("z3u2..."); empty: one generated
# once into DATA_DIR/certificates/issuer-ed25519.key (certificates/issuer.py).
ISSUER_KEY = os.environ.get("ROLLBOOK_ISSUER_KEY", "").strip()
# The issuer profile's name and home page (GET /certificates/issuer).
ISSUER_NAME = os.environ.get("ROLLBOOK_ISSUER_NAME", "").strip() or "rollbook"
ISSUER_URL = os.environ.get("ROLLBOOK_ISSUER_URL", "").strip() or PUBLIC_URL

# ---------------------------------------------------------------- webhooks (ADR 0014)
WEBHOOKS: dict[str, Any] = {
    # Receivers on loopback, private or reserved addresses are refused unless this is set.
    "ALLOW_PRIVATE": _env_bool("ROLLBOOK_WEBHOOKS_ALLOW_PRIVATE", False),
    "TIMEOUT": float(os.environ.get("ROLLBOOK_WEBHOOKS_TIMEOUT", "10")),
    # Seconds before the second attempt; each next one waits twice as long, up to the cap.
    "BACKOFF_BASE": float(os.environ.get("ROLLBOOK_WEBHOOKS_BACKOFF_BASE", "2")),
    "BACKOFF_CAP": float(os.environ.get("ROLLBOOK_WEBHOOKS_BACKOFF_CAP", "3600")),
    # Requests in flight per subscription (subjects side by side; one subject in order).
    "CONCURRENCY": _env_int("ROLLBOOK_WEBHOOKS_CONCURRENCY", 16),
    "BATCH": _env_int("ROLLBOOK_WEBHOOKS_BATCH", 500),
    # Pending deliveries a subscription may hold before it stops reading ahead.
    "MAX_PENDING": _env_int("ROLLBOOK_WEBHOOKS_MAX_PENDING", 10_000),
}

# ---------------------------------------------------------------- OneRoster (ADR 0015, 0018)
ONEROSTER: dict[str, Any] = {
    # Days a deleted course run, org, user or teaching role grant is served as `tobedeleted`
    # (and kept as a tombstone) after its deletion; delta clients must pull more often.
    "TOMBSTONE_RETENTION_DAYS": _env_int("ROLLBOOK_ONEROSTER_TOMBSTONE_RETENTION_DAYS", 90),
}

# ---------------------------------------------------------------- the live LMB endpoint
LMB: dict[str, Any] = {
    "ENABLED": _env_bool("ROLLBOOK_LMB_ENABLED", True),
    "USERNAME": os.environ.get("ROLLBOOK_LMB_USERNAME", ""),
    "PASSWORD": os.environ.get("ROLLBOOK_LMB_PASSWORD", ""),
    # Switching authentication off must be said explicitly.
    "AUTH_REQUIRED": _env_bool("ROLLBOOK_LMB_AUTH_REQUIRED", True),
    "ALLOWED_IPS": [
        ip.strip() for ip in os.environ.get("ROLLBOOK_LMB_ALLOWED_IPS", "").split(",") if ip.strip()
    ],
    "MAX_BYTES": _env_int("ROLLBOOK_LMB_MAX_BYTES", 1024 * 1024),
    "LOG_XML": _env_bool("ROLLBOOK_LMB_LOG_XML", True),
    "RETENTION_DAYS": _env_int("ROLLBOOK_LMB_RETENTION_DAYS", 30),
    # Synchronous mode: apply each message before answering; 500 when it fails (LMB retries)
    # unless SYNC_200_ON_ERROR, which answers 200 and leaves the failure to rollbook.
    "SYNC": _env_bool("ROLLBOOK_LMB_SYNC", False),
    "SYNC_200_ON_ERROR": _env_bool("ROLLBOOK_LMB_SYNC_200_ON_ERROR", False),
}

# ---------------------------------------------------------------- monitoring the LMB feed
# Stale: no message for GRACE_MINUTES of business hours (DAYS and HOURS in TIME_ZONE); outside
# them, for OFF_HOURS_GRACE_MINUTES (0: not checked). Kept as given; sis_import/monitor.py
# parses and checks them (MonitorConfig.load), naming the variable at fault.
SIS_MONITOR: dict[str, Any] = {
    "DAYS": os.environ.get("ROLLBOOK_SIS_MONITOR_DAYS", "mon-fri"),  # or mon,tue,sat
    "HOURS": os.environ.get("ROLLBOOK_SIS_MONITOR_HOURS", "07:00-19:00"),
    "GRACE_MINUTES": os.environ.get("ROLLBOOK_SIS_MONITOR_GRACE_MINUTES", "30"),
    "OFF_HOURS_GRACE_MINUTES": os.environ.get("ROLLBOOK_SIS_MONITOR_OFF_HOURS_GRACE_MINUTES", "0"),
    # Empty: TIME_ZONE.
    "TIME_ZONE": os.environ.get("ROLLBOOK_SIS_MONITOR_TIME_ZONE", "").strip(),
    "MAIL_TO": [
        address.strip()
        for address in os.environ.get("ROLLBOOK_SIS_MONITOR_MAIL_TO", "").split(",")
        if address.strip()
    ],
    # A bearer token for /metrics besides global staff's API tokens (a Prometheus scraper).
    "METRICS_TOKEN": os.environ.get("ROLLBOOK_SIS_MONITOR_METRICS_TOKEN", "").strip(),
}

# ---------------------------------------------------------------- mail (the feed monitor's alerts)
_EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
}
_email_backend = os.environ.get("ROLLBOOK_EMAIL_BACKEND", "").strip() or "smtp"
EMAIL_BACKEND = _EMAIL_BACKENDS.get(_email_backend, _email_backend)  # or a dotted path
EMAIL_HOST = os.environ.get("ROLLBOOK_EMAIL_HOST", "localhost")
EMAIL_PORT = _env_int("ROLLBOOK_EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("ROLLBOOK_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("ROLLBOOK_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("ROLLBOOK_EMAIL_USE_TLS")  # STARTTLS, usually port 587
EMAIL_USE_SSL = _env_bool("ROLLBOOK_EMAIL_USE_SSL")  # implicit TLS, usually port 465
EMAIL_TIMEOUT = _env_int("ROLLBOOK_EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = os.environ.get("ROLLBOOK_MAIL_FROM", "").strip() or "rollbook@localhost"
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# ---------------------------------------------------------------- Django
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "rollbook.audit",
    "rollbook.jobs",
    "rollbook.people",
    "rollbook.catalog",
    "rollbook.roles",
    "rollbook.enrollments",
    "rollbook.content_access",
    "rollbook.programs",
    "rollbook.certificates",
    "rollbook.sis_import",
    "rollbook.webhooks",
    "rollbook.oneroster",
    "rollbook.lti",
]

MIDDLEWARE = [
    "rollbook.lib.middleware.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "rollbook.lib.middleware.BodySizeLimitMiddleware",
    "rollbook.lib.middleware.ApiMethodNotAllowedMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "rollbook.urls"
WSGI_APPLICATION = "rollbook.wsgi.application"
AUTH_USER_MODEL = "people.User"

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
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# The admin's static files are served by the app itself (one box, no separate web server).
SERVE_STATIC = _env_bool("ROLLBOOK_SERVE_STATIC", True)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = _env_bool("ROLLBOOK_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("ROLLBOOK_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
