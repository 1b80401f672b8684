from __future__ import annotations

from typing import Any

import pytest
from django.test import Client


@pytest.fixture
def hr_client(db: Any) -> Client:
    """Hana works in HR (people and surveys, no customer data)."""
    from heedful.accounts.roles import Role
    from heedful.accounts.tests.factories import UserFactory

    client = Client()
    client.force_login(UserFactory(email="hana@example.com", first_name="Hana", role=Role.HR))
    return client
