"""Personas shared by every app's tests (settings: tests/settings.py)."""

from __future__ import annotations

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
