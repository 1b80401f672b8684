"""Settings for the test suite: environment defaults first, then the real settings.

``HEEDFUL_TEST_DATABASE_URL`` switches the whole suite to PostgreSQL.
"""

import os
import tempfile

os.environ.setdefault("HEEDFUL_DATA_DIR", tempfile.mkdtemp(prefix="heedful-test-"))
# pytest-xdist's workers inherit the first process's directory: each gets its own below it, or
# one worker's FAQ training lock would look like a retrain to the other's tests. Processes a
# test starts inherit the worker's variables, and so its directory.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker and os.path.basename(os.environ["HEEDFUL_DATA_DIR"]) != _worker:
    os.environ["HEEDFUL_DATA_DIR"] = os.path.join(os.environ["HEEDFUL_DATA_DIR"], _worker)
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("HEEDFUL_HTTPS", "false")
if os.environ.get("HEEDFUL_TEST_DATABASE_URL"):
    os.environ["DATABASE_URL"] = os.environ["HEEDFUL_TEST_DATABASE_URL"]

from heedful.settings import *  # noqa: E402, F403 - the environment above comes first

# Hashing cost is not what the tests measure.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 - whitenoise warns about a missing root

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A file, not memory: integration tests start real worker processes that must see the data.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405
