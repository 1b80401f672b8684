"""Django settings for heedful, read from the environment.

With no variables set, heedful runs *embedded*: SQLite in a data directory and a
Celery broker on the file system, so one machine and one command are enough.
Production is a matter of environment variables (``DATABASE_URL``, ``REDIS_URL``,
``SECRET_KEY``, ``ALLOWED_HOSTS``); see ``.env.example`` for every variable.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from heedful.env import env_bool, env_int, env_json_list, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env_str("HEEDFUL_DATA_DIR", str(Path.cwd() / "data"))).resolve()

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if not DEBUG and not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set SECRET_KEY (or SECRET_KEY_FILE), or start the embedded "
        "mode with `heedful up`, which keeps a generated key in its data directory."
    )
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS is not set. List the host names this instance answers to, "
        "comma-separated (for example ALLOWED_HOSTS=heedful.example.com)."
    )
if DEBUG and not SECRET_KEY:
    SECRET_KEY = "insecure-debug-only-key"  # noqa: S105 - only ever used with DEBUG on
if DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

SITE_URL = env_str("SITE_URL", "http://localhost:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "heedful.accounts",
    "heedful.governance",
    "heedful.crm",
    "heedful.people",
    "heedful.surveys",
    "heedful.workflows",
    "heedful.knowledge",
    "heedful.inbox",
    "heedful.brief",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "heedful.middleware.RefuseNulCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "heedful.accounts.middleware.BusinessTimezoneMiddleware",
    # Axes last: it needs the authenticated user and answers lockouts itself.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "heedful.urls"
WSGI_APPLICATION = "heedful.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

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
                "heedful.accounts.context_processors.navigation",
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
EMBEDDED = not DATABASE_URL
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "heedful.sqlite3"),
            # Keep each thread's connection: opening one and running the pragmas below cost
            # about 3 ms, paid again by every request of the embedded server otherwise.
            "CONN_MAX_AGE": 600,
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so two writers queue on the
                # busy timeout instead of one failing with "database is locked" mid-transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=20000;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth ---------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3  # invitations use the same tokens: three days

# Brute-force protection: five failures per user name from one address lock it for 15 minutes.
AXES_FAILURE_LIMIT = env_int("HEEDFUL_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_ENABLED = env_bool("HEEDFUL_AXES_ENABLED", True)

# --- Security headers ---------------------------------------------------------------------
HTTPS = env_bool("HEEDFUL_HTTPS", not EMBEDDED)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if HTTPS:
    SECURE_HSTS_SECONDS = env_int("HEEDFUL_HSTS_SECONDS", 60 * 60 * 24 * 30)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("HEEDFUL_SSL_REDIRECT", False)

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- I18n and time ------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"  # storage; pages show BUSINESS_TIME_ZONE
BUSINESS_TIME_ZONE = env_str("HEEDFUL_TIME_ZONE", "UTC")
BUSINESS_NAME = env_str("HEEDFUL_BUSINESS_NAME", "heedful")

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("HEEDFUL_STATIC_ROOT", str(DATA_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = DATA_DIR / "media"

# --- Email --------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "heedful <heedful@localhost>")
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
else:
    # Embedded default: mail is written to files in the data directory, never lost.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = DATA_DIR / "sent-mail"

# --- Inbox and knowledge base -------------------------------------------------------------
# Email in: an empty host switches the email channel off.
HEEDFUL_IMAP_HOST = env_str("HEEDFUL_IMAP_HOST")
HEEDFUL_IMAP_PORT = env_int("HEEDFUL_IMAP_PORT", 993)
HEEDFUL_IMAP_USER = env_str("HEEDFUL_IMAP_USER")
HEEDFUL_IMAP_PASSWORD = env_str("HEEDFUL_IMAP_PASSWORD")
HEEDFUL_IMAP_MAILBOX = env_str("HEEDFUL_IMAP_MAILBOX", "INBOX")
HEEDFUL_IMAP_SSL = env_bool("HEEDFUL_IMAP_SSL", True)
HEEDFUL_SUPPORT_EMAIL = env_str("HEEDFUL_SUPPORT_EMAIL", DEFAULT_FROM_EMAIL)
HEEDFUL_EMAIL_MAX_ATTEMPTS = env_int("HEEDFUL_EMAIL_MAX_ATTEMPTS", 6, minimum=1)
# The bot: how many answers may go unconfirmed, how many failed order checks before a person.
HEEDFUL_BOT_MAX_UNCONFIRMED_ANSWERS = env_int("HEEDFUL_BOT_MAX_UNCONFIRMED_ANSWERS", 2, minimum=1)
HEEDFUL_BOT_MAX_FAILED_ORDER_CHECKS = env_int("HEEDFUL_BOT_MAX_FAILED_ORDER_CHECKS", 2, minimum=1)
# How long a customer's message waits for the FAQ bot to finish relearning after a knowledge-base
# edit before a person takes the message (a mailbox worker always waits); 0 = never wait.
HEEDFUL_BOT_READY_WAIT_SECONDS = env_int("HEEDFUL_BOT_READY_WAIT_SECONDS", 10, minimum=0)
# A customer this frustrated (0–100, the triage's frustration score) goes to a person at once,
# with an apology instead of an answer; 0 turns the rule off.
HEEDFUL_BOT_HANDOFF_FRUSTRATION = env_int("HEEDFUL_BOT_HANDOFF_FRUSTRATION", 75, minimum=0)
# Hand-off messages promise a reply time from these, in BUSINESS_TIME_ZONE.
HEEDFUL_BUSINESS_HOURS = env_str("HEEDFUL_BUSINESS_HOURS", "mon-fri 09:00-17:00")
HEEDFUL_SLA_FIRST_RESPONSE_MINUTES = env_int("HEEDFUL_SLA_FIRST_RESPONSE_MINUTES", 240, minimum=1)
HEEDFUL_SLA_RESOLUTION_MINUTES = env_int("HEEDFUL_SLA_RESOLUTION_MINUTES", 1440, minimum=1)
HEEDFUL_INBOX_ROUND_ROBIN = env_bool("HEEDFUL_INBOX_ROUND_ROBIN", True)
# Conversations with the bot or waiting on the customer, without a message for this many days,
# are resolved by a rule (heedful/inbox/quiet.py); 0 turns it off.
HEEDFUL_INBOX_AUTO_RESOLVE_DAYS = env_int("HEEDFUL_INBOX_AUTO_RESOLVE_DAYS", 7, minimum=0)
# The chat widget: which sites may embed it, and how fast one visitor may write.
HEEDFUL_WIDGET_ALLOWED_ORIGINS = env_list("HEEDFUL_WIDGET_ALLOWED_ORIGINS")
HEEDFUL_CHAT_RATE_LIMIT = env_int("HEEDFUL_CHAT_RATE_LIMIT", 20, minimum=1)
HEEDFUL_CHAT_RATE_WINDOW = env_int("HEEDFUL_CHAT_RATE_WINDOW", 60, minimum=1)
HEEDFUL_CHAT_SESSIONS_PER_IP = env_int("HEEDFUL_CHAT_SESSIONS_PER_IP", 30, minimum=1)
HEEDFUL_INBOX_MAX_ATTACHMENT_BYTES = env_int("HEEDFUL_INBOX_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)
HEEDFUL_INBOX_MAX_BODY_CHARS = env_int("HEEDFUL_INBOX_MAX_BODY_CHARS", 100_000, minimum=1000)
# Shop systems post order events here, signed with this secret; empty switches the webhook off.
HEEDFUL_SHOP_WEBHOOK_SECRET = env_str("HEEDFUL_SHOP_WEBHOOK_SECRET")
# Outgoing conversation webhooks: a JSON list of {"url": ..., "secret": ...}.
HEEDFUL_INBOX_WEBHOOKS = env_json_list("HEEDFUL_INBOX_WEBHOOKS")
HEEDFUL_FAQ_ENCODER = env_str("HEEDFUL_FAQ_ENCODER")

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "heedful.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PARSER_CLASSES": [
        "heedful.api_fields.StorableJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "heedful.api_fields.Pagination",
    "EXCEPTION_HANDLER": "heedful.api_fields.api_exception_handler",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "heedful API",
    "DESCRIPTION": (
        "Contacts and companies, the inbox, the knowledge base, leave, surveys and workflows; "
        "and the trust spine: decision records, approvals and the audit log. Authenticate with "
        "an API token from your profile page: `Authorization: Bearer <token>`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "heedful.api_fields.document_error_responses",
    ],
}

# --- Celery -------------------------------------------------------------------------------
BROKER_DIR = DATA_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    # A broker that needs no server: kombu's file-system transport in the data directory.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    # kombu creates only the control folder itself; the queue must exist before the first message.
    for _folder in ("queue", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
# Installations that share one Redis keep apart by queue name.
CELERY_TASK_DEFAULT_QUEUE = env_str("HEEDFUL_TASK_QUEUE", "heedful")
CELERY_TASK_IGNORE_RESULT = True  # state lives in our own tables, not in a result backend
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False  # never inline in a request, in any mode
# Without this, Celery's Django fix-up closes the database connection before and after every
# task, whatever CONN_MAX_AGE says: a new PostgreSQL backend per task (a fork, then its catalog
# caches warmed again) cost more than a bulk task's own work. With it the fix-up recycles a
# connection every 1000 tasks, and heedful/celery.py drops broken or old ones before and after
# each task as Django does around a request (CONN_MAX_AGE, 0 for SQLite here).
CELERY_DB_REUSE_MAX = 1000
# Crontab entries are read in the business's zone, not UTC.
CELERY_TIMEZONE = BUSINESS_TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Celery's file schedule, but a truncated file no longer stops beat for good (heedful/celery.py).
CELERY_BEAT_SCHEDULER = "heedful.celery:RecoveringScheduler"
CELERY_BEAT_SCHEDULE = {
    # Proof that beat and a worker are alive; the home page and /healthz say when it stops.
    "record-heartbeat": {"task": "heedful.brief.tasks.record_heartbeat_task", "schedule": 60.0},
    # Approved actions whose task was lost (broker restart, killed worker) are re-queued.
    "requeue-stalled-approvals": {
        "task": "heedful.governance.tasks.requeue_stalled_actions_task",
        "schedule": 60.0,
    },
    # `ask` proposals nobody answered in time expire rather than run late.
    "expire-proposals": {
        "task": "heedful.governance.tasks.expire_proposals_task",
        "schedule": 300.0,
    },
    # Read new email from the support mailbox.
    "poll-mailbox": {"task": "heedful.inbox.tasks.poll_mailbox_task", "schedule": 60.0},
    # Retry outgoing email and free sends stuck by a killed worker.
    "send-due-emails": {"task": "heedful.inbox.tasks.send_due_emails_task", "schedule": 60.0},
    # Retry outgoing conversation webhooks.
    "deliver-due-webhooks": {"task": "heedful.inbox.tasks.deliver_due_webhooks_task", "schedule": 60.0},
    # SLA timers that ran out: tell the assignee (or the managers), once per breach.
    "detect-sla-breaches": {"task": "heedful.inbox.tasks.detect_sla_breaches_task", "schedule": 60.0},
    # Week-old contact import reports go: their error lines quote the uploaded files.
    "forget-old-contact-imports": {
        "task": "heedful.crm.tasks.forget_old_contact_imports_task",
        "schedule": crontab(hour=3, minute=30),
    },
    # Bot and waiting conversations without a message for days are resolved, with a reason.
    "resolve-quiet-conversations": {
        "task": "heedful.inbox.tasks.resolve_quiet_conversations_task",
        "schedule": 3600.0,
    },
    # Waiting time raises priority, so open conversations are re-ranked.
    "reprioritise-conversations": {
        "task": "heedful.inbox.tasks.reprioritise_open_conversations_task",
        "schedule": 300.0,
    },
    # Open survey rounds whose schedule says today (idempotent per day).
    "open-survey-rounds": {
        "task": "heedful.surveys.tasks.open_due_rounds_task",
        "schedule": crontab(hour=7, minute=0),
    },
    # Remind people who have not answered, two days before a round closes.
    "remind-survey-rounds": {
        "task": "heedful.surveys.tasks.remind_survey_rounds_task",
        "schedule": crontab(hour=9, minute=0),
    },
    # Remind assignees of onboarding tasks due tomorrow or overdue, at most once a day each.
    "onboarding-reminders": {
        "task": "heedful.people.tasks.send_onboarding_reminders_task",
        "schedule": crontab(hour=8, minute=0),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # The file-system broker has no host; kombu warns about that on every connection.
        "kombu.connection": {"level": "ERROR"},
    },
}
