"""Settings for the Neon operations dashboard.

Every value comes from the environment through the strict helpers in
config/env.py. Defaults make `make run` work on a fresh machine; with DEBUG off
the app refuses to start with the development secret key or encryption key.
"""

from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from celery.schedules import crontab  # noqa: F401  (handy for beat entries added by areas)
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production"
# A valid Fernet key used only for local development and tests.
DEV_ENCRYPTION_KEY = "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzJieXRlcyE="

# Off unless asked for: `make run` and `make test` set DEBUG=1, so a deployment that forgets it
# runs without debug pages and must provide real keys.
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
# Comma-separated Fernet keys: the first encrypts, all of them decrypt (rotation).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", [DEV_ENCRYPTION_KEY])

if not DEBUG:
    if SECRET_KEY == DEV_SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    if DEV_ENCRYPTION_KEY in FIELD_ENCRYPTION_KEYS:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must not contain the development key when DEBUG is off"
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "csp",
    "dashboard",
    "migrations_app",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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


def database_from_url(url: str) -> dict:
    """Turn postgres://user:pass@host:port/name?opt=v into a Django DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured("DATABASE_URL must start with postgres:// or postgresql://")
    options = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": options,
    }


LOCAL_PG_PORT = env_int("LOCAL_PG_PORT", 54320)
LOCAL_PG_PASSWORD = env_str("LOCAL_PG_PASSWORD", "postgres")
LOCAL_REDIS_PORT = env_int("LOCAL_REDIS_PORT", 63790)
DATABASE_URL = env_str(
    "DATABASE_URL", f"postgres://postgres:{LOCAL_PG_PASSWORD}@127.0.0.1:{LOCAL_PG_PORT}/dashboard"
)
DATABASES = {"default": database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", f"redis://127.0.0.1:{LOCAL_REDIS_PORT}/0")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# django-axes first: it refuses a locked-out user name + address before the password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/projects/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# --- security: see the README's "Security" section ---
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# HSTS when DEBUG is off: browsers then refuse plain HTTP to this host for a year.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients), turn this
# on so Django knows the request was HTTPS; never on a server clients reach directly.
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Content Security Policy (django-csp): scripts and styles only from our own static files, no inline
# script or style, no plugins, no framing. htmx is configured through a meta tag (base.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Login throttling (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one user name from one
# address, that pair is locked out for LOGIN_LOCKOUT_MINUTES; a successful login resets the count.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "dashboard.common.lockout.lockout_response"
AXES_VERBOSE = False

# Celery: task state of record lives in our own TaskRun rows; Redis is broker and result backend.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 180, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# Connections to target databases (see dashboard/targets/).
TARGET_CONNECT_TIMEOUT = env_int("TARGET_CONNECT_TIMEOUT", 10, minimum=1)
TARGET_STATEMENT_TIMEOUT_MS = env_int("TARGET_STATEMENT_TIMEOUT_MS", 5000, minimum=100)
TARGET_LOCK_TIMEOUT_MS = env_int("TARGET_LOCK_TIMEOUT_MS", 2000, minimum=100)
TARGET_CONNECT_RETRIES = env_int("TARGET_CONNECT_RETRIES", 4, minimum=0)
TARGET_RETRY_BASE_SECONDS = env_float("TARGET_RETRY_BASE_SECONDS", 0.5)
TARGET_APPLICATION_NAME = "neon-ops-dashboard"
# Multi-tenant deployments: refuse project URLs whose host is on a private, loopback or link-local network.
TARGET_BLOCK_PRIVATE_NETWORKS = env_bool("TARGET_BLOCK_PRIVATE_NETWORKS", False)
# Other databases on the dashboard's own Postgres server may be registered: on for the local demo
# and tests (one local server holds everything), off by default in production.
TARGET_ALLOW_DASHBOARD_SERVER = env_bool("TARGET_ALLOW_DASHBOARD_SERVER", DEBUG)
# A TaskRun still "running" without a heartbeat for this long is marked lost.
TASK_STALE_AFTER_SECONDS = env_int("TASK_STALE_AFTER_SECONDS", 300, minimum=10)
# A TaskRun still "queued" (no worker picked it up) this long is marked lost; longer than the above,
# because a run may wait behind long tasks (a queued branch delete must not silently vanish).
TASK_QUEUED_STALE_AFTER_SECONDS = env_int("TASK_QUEUED_STALE_AFTER_SECONDS", 3600, minimum=10)
# Finished task runs are deleted this long after they ended (queued and running ones never).
TASK_RUN_RETENTION_DAYS = env_int("TASK_RUN_RETENTION_DAYS", 30, minimum=1)

# Neon API (a local stand-in in tests and the demo).
NEON_API_BASE_URL = env_str("NEON_API_BASE_URL", "https://console.neon.tech/api/v2/")
NEON_API_TIMEOUT = env_float("NEON_API_TIMEOUT", 10.0)

# Demo data loaded by `make run`.
DEMO_PASSWORD = env_str("DEMO_PASSWORD", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- neon ---
# Stored compute state older than this is re-read from the Neon API before a job connects.
# Longer than the sync interval, so the periodic sync normally keeps it fresh without extra calls.
NEON_STATE_MAX_AGE_SECONDS = env_int("NEON_STATE_MAX_AGE_SECONDS", 90, minimum=0)
NEON_STATE_CHECK_TIMEOUT = env_float("NEON_STATE_CHECK_TIMEOUT", 3.0)
NEON_SYNC_INTERVAL_SECONDS = env_int("NEON_SYNC_INTERVAL_SECONDS", 60, minimum=10)
# How long a branch or compute action waits for Neon's operations to finish.
NEON_OPERATION_TIMEOUT = env_float("NEON_OPERATION_TIMEOUT", 120.0)
# --- schema ---
# Periodic schema snapshots while the compute is active (skipped for idle Neon computes).
SCHEMA_SNAPSHOT_INTERVAL_SECONDS = env_int("SCHEMA_SNAPSHOT_INTERVAL_SECONDS", 3600, minimum=60)
SCHEMA_PAGE_SIZE = env_int("SCHEMA_PAGE_SIZE", 50, minimum=5)
# Capturing reads the whole catalog in the background: it may take longer than a page's query,
# but keeps the normal lock timeout so a held lock still gives "catalog busy" quickly.
SCHEMA_CAPTURE_STATEMENT_TIMEOUT_MS = env_int("SCHEMA_CAPTURE_STATEMENT_TIMEOUT_MS", 60000, minimum=1000)
# A diff lists at most this many changed objects ("and N more"), so two distant versions stay quick.
SCHEMA_DIFF_MAX_OBJECTS = env_int("SCHEMA_DIFF_MAX_OBJECTS", 200, minimum=10)
# Retention: a snapshot older than the days, or beyond the newest versions of its project and branch,
# is deleted by the hourly cleanup; the newest snapshot of each project and branch is always kept.
SCHEMA_SNAPSHOT_KEEP_VERSIONS = env_int("SCHEMA_SNAPSHOT_KEEP_VERSIONS", 100, minimum=1)
SCHEMA_SNAPSHOT_RETENTION_DAYS = env_int("SCHEMA_SNAPSHOT_RETENTION_DAYS", 90, minimum=1)

# --- queries ---
# Statement history (pg_stat_statements snapshots), live activity and health checks.
QUERIES_COLLECT_INTERVAL_SECONDS = env_int("QUERIES_COLLECT_INTERVAL_SECONDS", 300, minimum=10)
# Longest interval while nothing but the dashboard's own statements run (lets Neon computes suspend).
QUERIES_BACKOFF_MAX_SECONDS = env_int("QUERIES_BACKOFF_MAX_SECONDS", 3600, minimum=10)
# How long a claimed collection may run before another worker may take the project again.
QUERIES_COLLECT_LEASE_SECONDS = env_int("QUERIES_COLLECT_LEASE_SECONDS", 120, minimum=10)
QUERIES_RETENTION_DAYS = env_int("QUERIES_RETENTION_DAYS", 14, minimum=1)
QUERIES_EXPLAIN_ANALYZE_TIMEOUT_MS = env_int("QUERIES_EXPLAIN_ANALYZE_TIMEOUT_MS", 10000, minimum=100)
# Statement texts longer than this are not parsed in a request (layout, EXPLAIN checks): pg_stat_statements
# keeps texts of any length, and parsing time and memory grow with them.
QUERIES_PARSE_MAX_CHARS = env_int("QUERIES_PARSE_MAX_CHARS", 50000, minimum=1000)
# Pages a person waits on (activity, EXPLAIN, cancel/terminate, manual health refresh) connect with
# these instead of the background TARGET_CONNECT_* values (the smaller of the two is used).
TARGET_INTERACTIVE_CONNECT_TIMEOUT = env_int("TARGET_INTERACTIVE_CONNECT_TIMEOUT", 5, minimum=1)
TARGET_INTERACTIVE_CONNECT_RETRIES = env_int("TARGET_INTERACTIVE_CONNECT_RETRIES", 1, minimum=0)
# The live activity page stops polling after this long (a "Resume" button starts it again).
ACTIVITY_POLL_MAX_SECONDS = env_int("ACTIVITY_POLL_MAX_SECONDS", 600, minimum=10)
# Health thresholds: (warning, critical). Ratios are fractions; times are seconds.
HEALTH_THRESHOLDS = {
    "connections_ratio": (
        env_float("HEALTH_CONNECTIONS_WARN", 0.75),
        env_float("HEALTH_CONNECTIONS_CRIT", 0.9),
    ),
    "long_running_seconds": env_int("HEALTH_LONG_RUNNING_SECONDS", 60, minimum=1),
    "long_running_count": (env_int("HEALTH_LONG_RUNNING_WARN", 1), env_int("HEALTH_LONG_RUNNING_CRIT", 5)),
    "idle_in_transaction_seconds": env_int("HEALTH_IDLE_TX_SECONDS", 60, minimum=0),
    "idle_in_transaction_count": (env_int("HEALTH_IDLE_TX_WARN", 1), env_int("HEALTH_IDLE_TX_CRIT", 5)),
    "cache_hit_ratio": (env_float("HEALTH_CACHE_HIT_WARN", 0.99), env_float("HEALTH_CACHE_HIT_CRIT", 0.95)),
    "wraparound_ratio": (env_float("HEALTH_WRAPAROUND_WARN", 0.5), env_float("HEALTH_WRAPAROUND_CRIT", 0.75)),
    "sequence_ratio": (env_float("HEALTH_SEQUENCE_WARN", 0.75), env_float("HEALTH_SEQUENCE_CRIT", 0.9)),
    "invalid_indexes": (1, 1),
    "inactive_slots": (1, 1),
    "slow_mean_ms": env_float("HEALTH_SLOW_MEAN_MS", 20.0),
    "slow_min_calls": env_int("HEALTH_SLOW_MIN_CALLS", 100, minimum=1),
    "slow_count": (env_int("HEALTH_SLOW_WARN", 1), env_int("HEALTH_SLOW_CRIT", 5)),
}

# --- migrations ---
# A statement that does not get its lock within the project's lock_timeout is retried (whole step, with
# exponential backoff and jitter from this base) this many times before the apply fails.
MIGRATION_LOCK_RETRIES = env_int("MIGRATION_LOCK_RETRIES", 5, minimum=0)
MIGRATION_LOCK_RETRY_BASE_SECONDS = env_float("MIGRATION_LOCK_RETRY_BASE_SECONDS", 0.5)

# --- benchmarks ---
# Limits of one benchmark run (the form refuses more); the Celery time limits follow the duration.
BENCHMARK_MAX_CLIENTS = env_int("BENCHMARK_MAX_CLIENTS", 32, minimum=1)
BENCHMARK_MAX_DURATION_SECONDS = env_int("BENCHMARK_MAX_DURATION_SECONDS", 600, minimum=1)
BENCHMARK_MAX_SCALE = env_int("BENCHMARK_MAX_SCALE", 10, minimum=1)
BENCHMARK_MAX_COLD_STARTS = env_int("BENCHMARK_MAX_COLD_STARTS", 10, minimum=1)
# A series runs A, B, A, B ... N times each (at least 2 each, so the comparison has two samples a side).
BENCHMARK_MAX_SERIES_REPETITIONS = env_int("BENCHMARK_MAX_SERIES_REPETITIONS", 10, minimum=2)
# statement_timeout of benchmark statements and of pgbench's table set-up on the target.
BENCHMARK_STATEMENT_TIMEOUT_MS = env_int("BENCHMARK_STATEMENT_TIMEOUT_MS", 30000, minimum=100)
BENCHMARK_SETUP_TIMEOUT_MS = env_int("BENCHMARK_SETUP_TIMEOUT_MS", 300000, minimum=1000)
# Seconds a run may spend besides its duration (temporary branch, tables, clean-up) before it is stopped.
BENCHMARK_SETUP_ALLOWANCE_SECONDS = env_int("BENCHMARK_SETUP_ALLOWANCE_SECONDS", 300, minimum=10)
# A change between two runs is called significant only when at least this large (and the interval excludes 0).
BENCHMARK_SIGNIFICANCE_THRESHOLD = env_float("BENCHMARK_SIGNIFICANCE_THRESHOLD", 0.05)
BENCHMARK_RUNS_PER_PAGE = env_int("BENCHMARK_RUNS_PER_PAGE", 20, minimum=1)

# --- migration history (other tools' history tables; migrations_app/history/) ---
# Rows read per history table (newest first); the timeline and drift use what was read.
MIGRATION_HISTORY_READ_LIMIT = env_int("MIGRATION_HISTORY_READ_LIMIT", 500, minimum=1)
if MIGRATION_HISTORY_READ_LIMIT > 10_000:
    raise ImproperlyConfigured("MIGRATION_HISTORY_READ_LIMIT must be at most 10000")
# Stored reads per project and branch: at most this many, none older than this many days (by the
# last time a read confirmed it); the newest read of each branch is always kept.
MIGRATION_HISTORY_KEEP_READS = env_int("MIGRATION_HISTORY_KEEP_READS", 200, minimum=1)
MIGRATION_HISTORY_RETENTION_DAYS = env_int("MIGRATION_HISTORY_RETENTION_DAYS", 90, minimum=1)
MIGRATION_HISTORY_PAGE_SIZE = env_int("MIGRATION_HISTORY_PAGE_SIZE", 50, minimum=5)

# --- beat: every periodic task, in one place, by its stable task name (see dashboard/tasks.py) ---
CELERY_BEAT_SCHEDULE = {
    "reconcile-stale-task-runs": {"task": "taskruns.reconcile_stale", "schedule": 60.0},
    "neon-sync-branches": {"task": "neon.sync_all_projects", "schedule": float(NEON_SYNC_INTERVAL_SECONDS)},
    "schema-periodic-snapshots": {"task": "schema.periodic_snapshots", "schedule": 300.0},
    "queries-collect-due": {"task": "queries.collect_due", "schedule": 60.0},
    "queries-cleanup": {"task": "queries.cleanup_history", "schedule": 3600.0},
    "schema-cleanup": {"task": "schema.cleanup_snapshots", "schedule": 3600.0},
    "taskruns-cleanup": {"task": "taskruns.cleanup_runs", "schedule": 3600.0},
    # Start applies whose "not before" time has come, or whose idle compute a person has woken.
    "migrations-start-due-applies": {"task": "migrations.start_due_applies", "schedule": 30.0},
    "migrations-history-cleanup": {"task": "migrations.cleanup_history_reads", "schedule": 3600.0},
}
