"""Django settings: every value is read from the environment here and nowhere else.

See `.env.example` for the full list of variables with their defaults.
"""

from pathlib import Path

from batchlab.celery_options import DEFAULT_POLLING_INTERVAL
from batchlab.env import ConfigurationError, env_bool, env_float, env_int, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# --- Mode -------------------------------------------------------------------
# The embedded default (`make run`, the tests) runs against a local moto server,
# may use a development secret and creates the demo accounts. Anything else is
# treated as production: it refuses to start without a real secret key.
EMBEDDED = env_bool("BATCHLAB_EMBEDDED", False)
DEBUG = env_bool("DJANGO_DEBUG", EMBEDDED)

_DEV_SECRET = "batchlab-embedded-development-key-not-for-production-use"
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or (_DEV_SECRET if EMBEDDED else None)
if not SECRET_KEY or (not EMBEDDED and (SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 32)):
    # https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
    raise ConfigurationError(
        "DJANGO_SECRET_KEY must be set to a random string of 32+ characters "
        "(or set BATCHLAB_EMBEDDED=1 for the local embedded stack)."
    )

ALLOWED_HOSTS = (env_str("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]") or "").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in (env_str("DJANGO_CSRF_TRUSTED_ORIGINS", "") or "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc as static files: /api/docs/ needs no CDN
    "jobs",
    "frontend",
]

MIDDLEWARE = [
    # First: every log line of a request carries its id (X-Request-ID).
    "batchlab.logs.RequestIdMiddleware",
    # An unknown path is a 404 problem (API) or page even with DEBUG on (batchlab.errors).
    "batchlab.errors.UnknownPathMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # https://whitenoise.readthedocs.io/en/stable/django.html : serves static files under gunicorn.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "batchlab.urls"
WSGI_APPLICATION = "batchlab.wsgi.application"
# The API paths are /jobs and /jobs/{id}, without trailing slashes.
APPEND_SLASH = False

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

# Users, sessions and API tokens live in a small relational database (SQLite by
# default); jobs live in DynamoDB.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env_str("BATCHLAB_SQLITE_PATH", str(BASE_DIR / "var" / "batchlab.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [] if EMBEDDED else [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
# https://whitenoise.readthedocs.io/en/stable/django.html#WHITENOISE_USE_FINDERS
# Serve straight from the apps' static folders so no collectstatic step is needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

if not EMBEDDED and not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- Django REST framework ----------------------------------------------------
# https://www.django-rest-framework.org/api-guide/settings/
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["batchlab.parsers.SafeJSONParser"],
    "EXCEPTION_HANDLER": "batchlab.errors.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "BatchLab API",
    "DESCRIPTION": "Submit batch jobs, watch them run, cancel and retry them.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # https://drf-spectacular.readthedocs.io/en/latest/settings.html : the UIs from the sidecar package.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # https://drf-spectacular.readthedocs.io/en/latest/settings.html : one name per choice set called "status".
    "ENUM_NAME_OVERRIDES": {"DeliveryStatusEnum": "jobs.states.DeliveryStatus", "StatusEnum": "jobs.states.JobStatus",
                            "WorkflowStatusEnum": "jobs.states.WorkflowStatus"},
}

# --- AWS ----------------------------------------------------------------------
# One endpoint setting per service; unset means real AWS. These are botocore's own
# variable names, so `aws` CLI calls made in the same shell reach the same place.
# https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
AWS_REGION = env_str("AWS_REGION", env_str("AWS_DEFAULT_REGION", "us-east-1"))
AWS_ENDPOINT_URL = env_str("AWS_ENDPOINT_URL") or None
AWS_ENDPOINT_URL_SQS = env_str("AWS_ENDPOINT_URL_SQS") or AWS_ENDPOINT_URL
AWS_ENDPOINT_URL_DYNAMODB = env_str("AWS_ENDPOINT_URL_DYNAMODB") or AWS_ENDPOINT_URL
AWS_ENDPOINT_URL_S3 = env_str("AWS_ENDPOINT_URL_S3") or AWS_ENDPOINT_URL

# --- BatchLab -----------------------------------------------------------------
BATCHLAB_TABLE_NAME = env_str("BATCHLAB_TABLE_NAME", "batchlab-jobs")
BATCHLAB_IDEMPOTENCY_TABLE_NAME = env_str("BATCHLAB_IDEMPOTENCY_TABLE_NAME", "batchlab-idempotency")
# Worker heartbeats (one item per live worker process, with a TTL).
BATCHLAB_WORKERS_TABLE_NAME = env_str("BATCHLAB_WORKERS_TABLE_NAME", "batchlab-workers")
BATCHLAB_SCHEDULES_TABLE_NAME = env_str("BATCHLAB_SCHEDULES_TABLE_NAME", "batchlab-schedules")
BATCHLAB_SCHEDULE_LOG_TABLE_NAME = env_str("BATCHLAB_SCHEDULE_LOG_TABLE_NAME", "batchlab-schedule-log")
BATCHLAB_WORKFLOWS_TABLE_NAME = env_str("BATCHLAB_WORKFLOWS_TABLE_NAME", "batchlab-workflows")
BATCHLAB_QUEUE_PREFIX = env_str("BATCHLAB_QUEUE_PREFIX", "batchlab-")
BATCHLAB_QUEUE_NAME = "jobs"  # the SQS queue is f"{prefix}jobs", its DLQ f"{prefix}jobs-dlq"
# Item jobs (batches): uploaded NDJSON files and large chunk outcomes live in this
# bucket; `manage.py batchlab_bootstrap` creates it with a lifecycle rule that
# expires objects after BATCHLAB_RETENTION_DAYS (rounded up to whole days).
BATCHLAB_BUCKET = env_str("BATCHLAB_BUCKET", "batchlab-items")
BATCHLAB_MAX_INLINE_ITEMS = env_int("BATCHLAB_MAX_INLINE_ITEMS", 1000, minimum=1)
BATCHLAB_MAX_INLINE_ITEMS_BYTES = env_int("BATCHLAB_MAX_INLINE_ITEMS_BYTES", 1024 * 1024, minimum=1)
BATCHLAB_MAX_FILE_BYTES = env_int("BATCHLAB_MAX_FILE_BYTES", 100 * 1024 * 1024, minimum=1)
BATCHLAB_MAX_FILE_LINES = env_int("BATCHLAB_MAX_FILE_LINES", 1_000_000, minimum=1)
BATCHLAB_MAX_ITEM_BYTES = env_int("BATCHLAB_MAX_ITEM_BYTES", 64 * 1024, minimum=1)
# Tries of one item in its chunk after a transient error (with a short backoff).
BATCHLAB_ITEM_ATTEMPTS = env_int("BATCHLAB_ITEM_ATTEMPTS", 3, minimum=1)
# A chunk's outcomes (results and errors) stay in its DynamoDB item up to this size, else go to S3.
BATCHLAB_INLINE_OUTCOMES_BYTES = env_int("BATCHLAB_INLINE_OUTCOMES_BYTES", 100 * 1024, minimum=1)
# Chunks are cut by count (chunk_size) and by bytes: inline items of one chunk (kept in its
# DynamoDB item, 400 KB at most with its outcomes) up to this many bytes of JSON; a file's
# chunk (a byte range read into a worker's memory) up to BATCHLAB_CHUNK_MAX_RANGE_BYTES.
BATCHLAB_CHUNK_MAX_BYTES = env_int("BATCHLAB_CHUNK_MAX_BYTES", 200 * 1024, minimum=1)
BATCHLAB_CHUNK_MAX_RANGE_BYTES = env_int("BATCHLAB_CHUNK_MAX_RANGE_BYTES", 8 * 1024 * 1024, minimum=1)
if BATCHLAB_CHUNK_MAX_BYTES + BATCHLAB_INLINE_OUTCOMES_BYTES > 350 * 1024:
    raise ConfigurationError(
        "BATCHLAB_CHUNK_MAX_BYTES + BATCHLAB_INLINE_OUTCOMES_BYTES must stay under 350 KB "
        "(a chunk's DynamoDB item holds both and may not pass 400 KB).")
# At most this many chunks per job: a smaller chunk_size is raised to fit (the job's
# chunk_size shows the one used). Six-digit chunk sort keys sort up to 999,999.
BATCHLAB_MAX_CHUNKS = env_int("BATCHLAB_MAX_CHUNKS", 10_000, minimum=1)
if BATCHLAB_MAX_CHUNKS > 999_999:
    raise ConfigurationError("BATCHLAB_MAX_CHUNKS must be at most 999999 (chunk sort keys have six digits).")
# Longest a handler may run; Celery's hard time limit. Without the visibility
# heartbeat the SQS visibility timeout must exceed it, or a running job's
# message is delivered again; with it (the default) the worker keeps a running
# job's message hidden, and the timeout may be shorter than a job.
BATCHLAB_MAX_JOB_SECONDS = env_int("BATCHLAB_MAX_JOB_SECONDS", 600, minimum=1)
BATCHLAB_VISIBILITY_TIMEOUT = env_int("BATCHLAB_VISIBILITY_TIMEOUT", 900, minimum=1)
BATCHLAB_VISIBILITY_HEARTBEAT = env_bool("BATCHLAB_VISIBILITY_HEARTBEAT", True)
if BATCHLAB_VISIBILITY_TIMEOUT <= BATCHLAB_MAX_JOB_SECONDS and not BATCHLAB_VISIBILITY_HEARTBEAT:
    raise ConfigurationError(
        "BATCHLAB_VISIBILITY_TIMEOUT must be longer than BATCHLAB_MAX_JOB_SECONDS "
        f"(got {BATCHLAB_VISIBILITY_TIMEOUT} and {BATCHLAB_MAX_JOB_SECONDS}) unless BATCHLAB_VISIBILITY_HEARTBEAT is on."
    )
# Celery's hard time limit (the child is killed) sits after the soft limit:
# before the visibility timeout (up to 30 s after the soft limit) when it is
# longer than a job, else 10 s after it (the visibility heartbeat hides the message).
BATCHLAB_HARD_LIMIT_MARGIN = (
    max(0, min(30, (BATCHLAB_VISIBILITY_TIMEOUT - BATCHLAB_MAX_JOB_SECONDS) // 2))
    if BATCHLAB_VISIBILITY_TIMEOUT > BATCHLAB_MAX_JOB_SECONDS else 10
)
# A claim holds a lease; a heartbeat renews it every third of this while the
# handler runs. An expired lease means the worker died.
BATCHLAB_LEASE_SECONDS = env_int("BATCHLAB_LEASE_SECONDS", 60, minimum=2)
BATCHLAB_MAX_RECEIVE_COUNT = env_int("BATCHLAB_MAX_RECEIVE_COUNT", 5, minimum=1)
BATCHLAB_RETENTION_DAYS = env_float("BATCHLAB_RETENTION_DAYS", 7.0)
# Attempts of a job (and of a chunk of an item job); at most 20, so that a job's timeline stays bounded.
BATCHLAB_MAX_ATTEMPTS = env_int("BATCHLAB_MAX_ATTEMPTS", 3, minimum=1)
if BATCHLAB_MAX_ATTEMPTS > 20:
    raise ConfigurationError("BATCHLAB_MAX_ATTEMPTS must be at most 20.")
BATCHLAB_RETRY_BASE_SECONDS = env_float("BATCHLAB_RETRY_BASE_SECONDS", 2.0)
BATCHLAB_RETRY_MAX_SECONDS = env_float("BATCHLAB_RETRY_MAX_SECONDS", 300.0)
# Celery's retry_jitter: a retry waits a random time up to its backoff (full jitter), or exactly the backoff.
BATCHLAB_RETRY_JITTER = env_bool("BATCHLAB_RETRY_JITTER", True)
if BATCHLAB_RETRY_MAX_SECONDS > 900:
    raise ConfigurationError("BATCHLAB_RETRY_MAX_SECONDS must be at most 900 (a retry waits as an SQS message delay).")
BATCHLAB_MAX_PAYLOAD_BYTES = env_int("BATCHLAB_MAX_PAYLOAD_BYTES", 64 * 1024, minimum=2)
BATCHLAB_MAX_RESULT_BYTES = env_int("BATCHLAB_MAX_RESULT_BYTES", 128 * 1024, minimum=2)
# POST /workflows: the whole definition (every step's payload) in one body.
BATCHLAB_MAX_WORKFLOW_BYTES = env_int("BATCHLAB_MAX_WORKFLOW_BYTES", 2 * 1024 * 1024, minimum=1024)
# A workflow whose submission's process died before it started is deleted after this long.
BATCHLAB_WORKFLOW_SUBMIT_GRACE_SECONDS = env_int("BATCHLAB_WORKFLOW_SUBMIT_GRACE_SECONDS", 600, minimum=1)
BATCHLAB_PROGRESS_INTERVAL = env_float("BATCHLAB_PROGRESS_INTERVAL", 1.0)
BATCHLAB_STALE_QUEUED_SECONDS = env_int("BATCHLAB_STALE_QUEUED_SECONDS", 300, minimum=1)
BATCHLAB_RECOVERY_INTERVAL = env_int("BATCHLAB_RECOVERY_INTERVAL", 30, minimum=1)
BATCHLAB_SHUTDOWN_GRACE_SECONDS = env_int("BATCHLAB_SHUTDOWN_GRACE_SECONDS", 30, minimum=0)
# Counting jobs per status reads a whole index partition: staff pages and
# /metrics reuse the figures for this long.
BATCHLAB_STATUS_COUNTS_CACHE_SECONDS = env_int("BATCHLAB_STATUS_COUNTS_CACHE_SECONDS", 30, minimum=0)
BATCHLAB_WORKER_CONCURRENCY = env_int("BATCHLAB_WORKER_CONCURRENCY", 1, minimum=1)
# kombu's polling_interval: how soon a worker that just finished a job asks for the
# next (see batchlab/celery_options.py; the figures that chose it in docs/benchmark.md).
BATCHLAB_SQS_POLLING_INTERVAL = env_float("BATCHLAB_SQS_POLLING_INTERVAL", DEFAULT_POLLING_INTERVAL)
# Each worker records itself this often (one PutItem). A record older than two
# intervals is shown as stale; after 40 intervals it expires (hidden at once,
# deleted by DynamoDB's TTL sweeper later).
BATCHLAB_WORKER_HEARTBEAT_SECONDS = env_float("BATCHLAB_WORKER_HEARTBEAT_SECONDS", 15.0)
if BATCHLAB_WORKER_HEARTBEAT_SECONDS <= 0:
    raise ConfigurationError("BATCHLAB_WORKER_HEARTBEAT_SECONDS must be positive.")
# A worker serves its own /metrics (summing its prefork children through
# PROMETHEUS_MULTIPROC_DIR) on this port; 0 = off. docs/deploy.md, "Metrics".
BATCHLAB_WORKER_METRICS_PORT = env_int("BATCHLAB_WORKER_METRICS_PORT", 0, minimum=0)
BATCHLAB_WORKER_METRICS_HOST = env_str("BATCHLAB_WORKER_METRICS_HOST", "127.0.0.1")
# /metrics reads job counts, queue depths and worker records at most this often.
BATCHLAB_METRICS_CACHE_SECONDS = env_float("BATCHLAB_METRICS_CACHE_SECONDS", 10.0)
# --- Flow control: priorities, pause, concurrency and rate limits per job type ---
# Each type's settings (one item per type, with its edit history) and the limiter
# items the claim writes (a type's or a key's running leases and rate frontier).
BATCHLAB_JOB_TYPES_TABLE_NAME = env_str("BATCHLAB_JOB_TYPES_TABLE_NAME", "batchlab-job-types")
BATCHLAB_LIMITS_TABLE_NAME = env_str("BATCHLAB_LIMITS_TABLE_NAME", "batchlab-limits")
# Every process reads all types' settings (one Query) at most this often: an edit
# takes effect on every worker within this, plus the request (at most 5 s).
BATCHLAB_TYPE_SETTINGS_SECONDS = env_float("BATCHLAB_TYPE_SETTINGS_SECONDS", 2.0)
if not 0 <= BATCHLAB_TYPE_SETTINGS_SECONDS <= 4:
    raise ConfigurationError("BATCHLAB_TYPE_SETTINGS_SECONDS must be from 0 to 4 (edits take effect within 5 s).")
# The longest a job waiting for a concurrency slot, or for its paused type, stays
# away before it looks again (doubling from 1 s; a release or a resume wakes it sooner).
BATCHLAB_CONCURRENCY_WAIT_MAX_SECONDS = env_int("BATCHLAB_CONCURRENCY_WAIT_MAX_SECONDS", 30, minimum=1)
BATCHLAB_PAUSE_WAIT_MAX_SECONDS = env_int("BATCHLAB_PAUSE_WAIT_MAX_SECONDS", 60, minimum=1)
# 1: workers take from the priority queues by weight (batchlab/sqs_priority.py); 0: kombu's own
# SQS channel (one loop per queue, no weights), for comparison or to rule the scheduler out.
BATCHLAB_SQS_WEIGHTED = env_bool("BATCHLAB_SQS_WEIGHTED", True)
# --- Schedules and delayed jobs -------------------------------------------------
# A job due further ahead than this is stored SCHEDULED and published by the
# scheduler when due; closer than this it is published at once with an SQS delay
# (SQS caps a message delay at 900 s).
BATCHLAB_SCHEDULED_THRESHOLD_SECONDS = env_int("BATCHLAB_SCHEDULED_THRESHOLD_SECONDS", 900, minimum=0)
if BATCHLAB_SCHEDULED_THRESHOLD_SECONDS > 900:
    raise ConfigurationError("BATCHLAB_SCHEDULED_THRESHOLD_SECONDS must be at most 900 (the SQS delay limit).")
# Shortest and longest interval of a recurring schedule (the tests use seconds).
BATCHLAB_SCHEDULE_MIN_INTERVAL_SECONDS = env_int("BATCHLAB_SCHEDULE_MIN_INTERVAL_SECONDS", 60, minimum=1)
BATCHLAB_SCHEDULE_MAX_INTERVAL_SECONDS = env_int("BATCHLAB_SCHEDULE_MAX_INTERVAL_SECONDS", 86400, minimum=1)
# How long a schedule's runs stay in its log (the pages show the last 50); edits stay with the schedule.
BATCHLAB_SCHEDULE_RUNS_KEPT_DAYS = env_int("BATCHLAB_SCHEDULE_RUNS_KEPT_DAYS", 90, minimum=1)
# How often `manage.py batchlab_scheduler` looks for due schedules and jobs.
BATCHLAB_SCHEDULER_TICK_SECONDS = env_float("BATCHLAB_SCHEDULER_TICK_SECONDS", 1.0)
# A firing claimed by a scheduler that has not created its job after this long
# (the scheduler died) is completed by any other scheduler.
BATCHLAB_SCHEDULE_PENDING_GRACE_SECONDS = env_int("BATCHLAB_SCHEDULE_PENDING_GRACE_SECONDS", 5, minimum=0)
# A firing whose job cannot be made (its items gone from S3, a payload the type no longer
# takes) is tried this many times, then logged as a failed run so that the schedule goes on.
BATCHLAB_SCHEDULE_FIRE_ATTEMPTS = env_int("BATCHLAB_SCHEDULE_FIRE_ATTEMPTS", 10, minimum=1)
# Fault point for the crash tests only: "sleep:N" or "exit" right after a
# scheduler's conditional write and before it creates the job. Empty in production.
BATCHLAB_SCHEDULER_FAULT = env_str("BATCHLAB_SCHEDULER_FAULT", "") or ""
# Test-only job types (`crash`, `countrun`) register only when this is on.
BATCHLAB_TEST_HANDLERS = env_bool("BATCHLAB_TEST_HANDLERS", False)
BATCHLAB_RUN_LOG = env_str("BATCHLAB_RUN_LOG", "")
# The benchmark's meter (batchlab/awsmeter.py): when set, each process counts its AWS
# requests and DynamoDB billing units and writes them to <dir>/<pid>.json. Off by default.
BATCHLAB_AWS_METER_DIR = env_str("BATCHLAB_AWS_METER_DIR", "")
# A worker idle with no successful SQS receive for this long is stuck (a stalled
# socket, a wedged consumer): it stops so that its supervisor restarts it. 0: off.
BATCHLAB_RECEIVE_WATCHDOG_SECONDS = env_int("BATCHLAB_RECEIVE_WATCHDOG_SECONDS", 300, minimum=0)
# Seconds in the Retry-After header of a 503 (DynamoDB or SQS unavailable or throttled).
BATCHLAB_RETRY_AFTER_SECONDS = env_int("BATCHLAB_RETRY_AFTER_SECONDS", 5, minimum=1)
# More modules that register job types with @job_type (comma-separated, importable): your own job
# types, in your own package (README, "Adding a job type"); imported at start-up by every process.
BATCHLAB_HANDLER_MODULES = [m.strip() for m in env_str("BATCHLAB_HANDLER_MODULES", "").split(",") if m.strip()]

# --- Webhooks -------------------------------------------------------------------
# Endpoints (subscriptions and each user's callback secret) and their deliveries.
BATCHLAB_WEBHOOKS_TABLE_NAME = env_str("BATCHLAB_WEBHOOKS_TABLE_NAME", "batchlab-webhooks")
BATCHLAB_WEBHOOK_DELIVERIES_TABLE_NAME = env_str("BATCHLAB_WEBHOOK_DELIVERIES_TABLE_NAME", "batchlab-webhook-deliveries")
BATCHLAB_WEBHOOK_QUEUE_NAME = "webhooks"  # the SQS queue is f"{prefix}webhooks"
# A worker that consumes the jobs queue starts a delivery worker of its own (a thread
# pool on the webhooks queue), so that a slow receiver never holds a job's slot.
# 0: run delivery workers yourself (`celery -A batchlab worker -Q webhooks -P threads`).
BATCHLAB_WEBHOOK_WORKER = env_bool("BATCHLAB_WEBHOOK_WORKER", True)
BATCHLAB_WEBHOOK_CONCURRENCY = env_int("BATCHLAB_WEBHOOK_CONCURRENCY", 16, minimum=1)
# One try: a 2xx within this many seconds is a success.
BATCHLAB_WEBHOOK_TIMEOUT_SECONDS = env_float("BATCHLAB_WEBHOOK_TIMEOUT_SECONDS", 10.0)
# Retries: exponential backoff with jitter from BASE up to MAX between tries, for
# WINDOW seconds after the first try (a last try at the end of the window).
BATCHLAB_WEBHOOK_RETRY_BASE_SECONDS = env_float("BATCHLAB_WEBHOOK_RETRY_BASE_SECONDS", 5.0)
BATCHLAB_WEBHOOK_RETRY_MAX_SECONDS = env_float("BATCHLAB_WEBHOOK_RETRY_MAX_SECONDS", 6 * 3600.0)
BATCHLAB_WEBHOOK_RETRY_WINDOW_SECONDS = env_float("BATCHLAB_WEBHOOK_RETRY_WINDOW_SECONDS", 24 * 3600.0 + 600)
# An endpoint whose every try failed for this long is disabled (its owner sees why).
BATCHLAB_WEBHOOK_DISABLE_AFTER_SECONDS = env_float("BATCHLAB_WEBHOOK_DISABLE_AFTER_SECONDS", 5 * 86400.0)
# A rotated secret still signs (beside the new one) for this long.
BATCHLAB_WEBHOOK_SECRET_OVERLAP_SECONDS = env_int("BATCHLAB_WEBHOOK_SECRET_OVERLAP_SECONDS", 86400, minimum=0)
# An event or a try whose message has not been acted on this long after it was due is published again.
BATCHLAB_WEBHOOK_STALE_SECONDS = env_int("BATCHLAB_WEBHOOK_STALE_SECONDS", 60, minimum=1)
# A delivery's lease (one try takes at most the timeout plus a few writes).
BATCHLAB_WEBHOOK_LEASE_SECONDS = env_int("BATCHLAB_WEBHOOK_LEASE_SECONDS", 30, minimum=2)
# Bounds: the body sent (larger job documents leave out payload and result), and the answer read.
BATCHLAB_WEBHOOK_MAX_BODY_BYTES = env_int("BATCHLAB_WEBHOOK_MAX_BODY_BYTES", 16 * 1024, minimum=1024)
BATCHLAB_WEBHOOK_MAX_RESPONSE_BYTES = env_int("BATCHLAB_WEBHOOK_MAX_RESPONSE_BYTES", 1024, minimum=1)
# Networks a webhook may reach although they are not public (loopback, private,
# link-local, ...), comma-separated CIDRs. The embedded mode adds 127.0.0.0/8.
BATCHLAB_WEBHOOK_ALLOWED_NETWORKS = [n.strip() for n in env_str("BATCHLAB_WEBHOOK_ALLOWED_NETWORKS", "").split(",") if n.strip()]
BATCHLAB_WEBHOOK_MAX_ENDPOINTS = env_int("BATCHLAB_WEBHOOK_MAX_ENDPOINTS", 20, minimum=1)
if BATCHLAB_WEBHOOK_LEASE_SECONDS <= BATCHLAB_WEBHOOK_TIMEOUT_SECONDS:
    raise ConfigurationError("BATCHLAB_WEBHOOK_LEASE_SECONDS must be longer than BATCHLAB_WEBHOOK_TIMEOUT_SECONDS.")

# text (default): plain lines; json: one object per line with time, level, logger,
# message, job_id, job_type, attempt, worker and request_id (batchlab/logs.py).
BATCHLAB_LOG_FORMAT = env_str("BATCHLAB_LOG_FORMAT", "text")
if BATCHLAB_LOG_FORMAT not in ("text", "json"):
    raise ConfigurationError(f"BATCHLAB_LOG_FORMAT must be text or json (got {BATCHLAB_LOG_FORMAT!r}).")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "batchlab.logs.JsonLineFormatter"},
    },
    "filters": {"context": {"()": "batchlab.logs.ContextFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": BATCHLAB_LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": env_str("BATCHLAB_LOG_LEVEL", "INFO")},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "pynamodb": {"level": "WARNING"},
        "django.server": {"level": "WARNING"},
    },
}
