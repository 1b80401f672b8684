"""Settings are read in a fresh interpreter per case: they are module-level and load once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PRINT = (
    "import django, json; from django.conf import settings; django.setup(); "
    "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'], "
    "'broker': settings.CELERY_BROKER_URL, 'secure': settings.SESSION_COOKIE_SECURE, "
    "'hsts': getattr(settings, 'SECURE_HSTS_SECONDS', 0), 'cache': settings.CACHES['default']['BACKEND']}))"
)


def _run(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "DEBUG", "HEEDFUL_HTTPS"}
    }
    clean.update({"DJANGO_SETTINGS_MODULE": "heedful.settings", "HEEDFUL_DATA_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "-c", PRINT], env=clean, capture_output=True, text=True, timeout=60
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off(tmp_path: Path) -> None:
    result = _run({"ALLOWED_HOSTS": "example.com"}, tmp_path)
    assert result.returncode == 1
    assert "SECRET_KEY is not set" in result.stderr


def test_it_refuses_to_start_without_allowed_hosts_when_debug_is_off(tmp_path: Path) -> None:
    result = _run({"SECRET_KEY": "k"}, tmp_path)
    assert result.returncode == 1
    assert "ALLOWED_HOSTS is not set" in result.stderr


def test_the_embedded_default_is_sqlite_and_a_file_broker(tmp_path: Path) -> None:
    result = _run({"SECRET_KEY": "k", "ALLOWED_HOSTS": "localhost"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "engine": "django.db.backends.sqlite3",
        "broker": "filesystem://",
        "secure": False,
        "hsts": 0,
        "cache": "django.core.cache.backends.locmem.LocMemCache",
    }
    assert (tmp_path / "broker" / "queue").is_dir()


def test_production_is_postgres_redis_and_secure_cookies(tmp_path: Path) -> None:
    result = _run(
        {
            "SECRET_KEY": "k",
            "ALLOWED_HOSTS": "heedful.example.com",
            "DATABASE_URL": "postgres://u@db.internal:5432/heedful",
            "REDIS_URL": "redis://cache.internal:6379/0",
        },
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "engine": "django.db.backends.postgresql",
        "broker": "redis://cache.internal:6379/0",
        "secure": True,
        "hsts": 2592000,
        "cache": "django.core.cache.backends.redis.RedisCache",
    }


@pytest.mark.django_db
def test_pages_carry_security_headers(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp


@pytest.mark.django_db
def test_the_api_docs_page_needs_no_inline_style_or_script(owner_client) -> None:  # type: ignore[no-untyped-def]
    # Our policy allows styles and scripts from this site only; drf-spectacular's own template
    # wrote three page rules inline, which Chromium refused (a console error on every visit).
    response = owner_client.get("/api/docs/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "<style" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert re.search(r'<link rel="stylesheet" href="/static/heedful/api-docs(\.\w+)?\.css">', html)
