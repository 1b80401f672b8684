from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from heedful.accounts import services
from heedful.accounts.models import ApiToken, User

pytestmark = pytest.mark.django_db


def test_a_token_is_shown_once_and_only_its_hash_is_stored(agent_client: Client, agent: User) -> None:
    response = agent_client.post("/accounts/profile/", {"name": "shop sync"})
    secret = response.context["new_secret"]
    assert secret.startswith("hf_")
    token = ApiToken.objects.get(user=agent)
    assert token.key_hash == ApiToken.hash_key(secret)
    assert secret not in (token.key_prefix, token.key_hash)
    assert secret not in agent_client.get("/accounts/profile/").content.decode()


def test_a_valid_token_authenticates_the_api(agent: User) -> None:
    _token, secret = services.create_api_token(user=agent, name="t")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/contacts/").status_code == 200


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Bearer hf_not-a-real-token", "Invalid or revoked API token."),
        ("Bearer", "Malformed Authorization header: expected 'Bearer <token>'."),
        ("Bearer a b", "Malformed Authorization header: expected 'Bearer <token>'."),
    ],
)
def test_a_wrong_token_gets_401_with_a_clear_reason(header: str, detail: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/contacts/")
    assert response.status_code == 401
    assert response.json() == {"detail": detail}


def test_no_credentials_get_401() -> None:
    response = APIClient().get("/api/v1/contacts/")
    assert response.status_code == 401


def test_a_revoked_token_stops_working(agent: User) -> None:
    token, secret = services.create_api_token(user=agent, name="t")
    services.revoke_api_token(token=token, user=agent)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/contacts/").status_code == 401


def test_someone_else_cannot_revoke_my_token(agent: User, manager_client: Client) -> None:
    token, _secret = services.create_api_token(user=agent, name="t")
    assert manager_client.post(f"/accounts/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
