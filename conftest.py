"""Personas shared by every app's tests (settings: tests/settings.py), and one Chromium for
every browser test, under tests/ and in the apps' own tests alike (Playwright's sync API
allows one instance per thread, so there must be exactly one session-wide fixture)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client


@pytest.fixture
def owner(db):  # type: ignore[no-untyped-def]
    """Olivia owns the business: she may do everything, the audit log included."""
    from heedful.accounts.roles import Role
    from heedful.accounts.tests.factories import UserFactory

    return UserFactory(email="olivia@example.com", first_name="Olivia", role=Role.OWNER)


@pytest.fixture
def manager(db):  # type: ignore[no-untyped-def]
    """Max manages: approvals, decisions and imports, but not users or the audit log."""
    from heedful.accounts.roles import Role
    from heedful.accounts.tests.factories import UserFactory

    return UserFactory(email="max@example.com", first_name="Max", role=Role.MANAGER)


@pytest.fixture
def agent(db):  # type: ignore[no-untyped-def]
    """Ana answers customers: contacts yes; approvals, decisions and the audit log no."""
    from heedful.accounts.roles import Role
    from heedful.accounts.tests.factories import UserFactory

    return UserFactory(email="ana@example.com", first_name="Ana", role=Role.AGENT)


@pytest.fixture
def employee(db):  # type: ignore[no-untyped-def]
    """Eli is an employee: signs in for leave and surveys, sees no customer data."""
    from heedful.accounts.roles import Role
    from heedful.accounts.tests.factories import UserFactory

    return UserFactory(email="eli@example.com", first_name="Eli", role=Role.EMPLOYEE)


def _client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner) -> Client:  # type: ignore[no-untyped-def]
    return _client_for(owner)


@pytest.fixture
def manager_client(manager) -> Client:  # type: ignore[no-untyped-def]
    return _client_for(manager)


@pytest.fixture
def agent_client(agent) -> Client:  # type: ignore[no-untyped-def]
    return _client_for(agent)


@pytest.fixture
def employee_client(employee) -> Client:  # type: ignore[no-untyped-def]
    return _client_for(employee)


@pytest.fixture
def api_client_for(db):  # type: ignore[no-untyped-def]
    """Return a function that gives an API client authenticated by a real token of that user."""
    from rest_framework.test import APIClient

    from heedful.accounts.services import create_api_token

    def make(user):  # type: ignore[no-untyped-def]
        _token, secret = create_api_token(user=user, name="tests")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client

    return make


@pytest.fixture(autouse=True)
def _restore_celery_broker():  # type: ignore[no-untyped-def]
    """Tests that point Celery at a private Redis must not leave later tests publishing there.

    Celery keeps a connection pool and a producer pool bound to the broker it used when they
    were made, so besides the settings, pools made during the test are dropped: the next
    publish makes fresh ones for the restored broker.
    """
    from heedful.celery import app

    keys = ("broker_url", "task_default_queue", "broker_transport_options", "task_always_eager")
    saved = {key: app.conf.get(key) for key in keys}
    saved_pools = (app._pool, app.amqp._producer_pool)
    yield
    for key, value in saved.items():
        if app.conf.get(key) != value:
            app.conf[key] = value
    if (app._pool, app.amqp._producer_pool) != saved_pools:
        app._pool = None
        app.amqp._producer_pool = None


CHROMIUM = os.environ.get("HEEDFUL_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; Django's async-safety check would refuse ORM calls.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    yield page
    context.close()
