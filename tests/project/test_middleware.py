"""Requests whose address carries a NUL character are refused before any view reads them."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    ["/api/v1/decisions/?subject_type=a%00b", "/api/v1/contacts/?q=%00", "/contacts/?q=x%00", "/healthz%00"],
)
def test_a_nul_in_the_address_is_a_400_not_a_database_error(owner_client: Client, path: str) -> None:
    # On PostgreSQL each was a 500 ("text fields cannot contain NUL"), found by schemathesis.
    response = owner_client.get(path)
    assert response.status_code == 400
    assert response.content == b"The address contains a NUL character (%00)."


def test_an_ordinary_search_passes(owner_client: Client) -> None:
    assert owner_client.get("/api/v1/contacts/?q=rosa").status_code == 200
