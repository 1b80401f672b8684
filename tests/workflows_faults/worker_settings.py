"""Settings for the worker processes the fault tests start and kill.

The real settings, plus: SQLite reached through DATABASE_URL keeps the embedded mode's
IMMEDIATE transactions and busy timeout, and the outbox gives up its leases and retries
in seconds rather than minutes, so a test can watch several rounds.
"""

import os

from heedful.settings import *  # noqa: F403

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["OPTIONS"] = {  # noqa: F405
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

WORKFLOWS_OUTBOX_LEASE_SECONDS = float(os.environ.get("WORKFLOWS_OUTBOX_LEASE_SECONDS", "4"))
WORKFLOWS_OUTBOX_BACKOFF_SECONDS = float(os.environ.get("WORKFLOWS_OUTBOX_BACKOFF_SECONDS", "0.5"))
WORKFLOWS_OUTBOX_MAX_ATTEMPTS = 40
LOGGING["root"]["level"] = os.environ.get("LOG_LEVEL", "WARNING")  # noqa: F405
