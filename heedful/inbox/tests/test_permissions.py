"""Who may work the inbox (WORK_INBOX: owner, manager, agent) and who manages what the team and
the bot say (MANAGE_KNOWLEDGE: owner, manager). HR and employees see no customer conversations."""

from __future__ import annotations

import pytest
from django.test import Client

from heedful.accounts.roles import ROLE_PERMISSIONS, Perm, Role
from heedful.accounts.tests.factories import UserFactory
from heedful.inbox.models import Status
from heedful.inbox.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


def test_the_role_map_for_the_inbox_and_the_knowledge_base():
    assert {role for role, perms in ROLE_PERMISSIONS.items() if Perm.WORK_INBOX in perms} == {
        Role.OWNER,
        Role.MANAGER,
        Role.AGENT,
    }
    assert {role for role, perms in ROLE_PERMISSIONS.items() if Perm.MANAGE_KNOWLEDGE in perms} == {
        Role.OWNER,
        Role.MANAGER,
    }


def _client(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(email=f"{role}@example.com", role=role))
    return client


READ_PAGES = [
    "/inbox/",
    "/inbox/{pk}/",
    "/inbox/{pk}/messages/",
    "/inbox/report/",
    "/inbox/canned/",
    "/knowledge/",
]
MANAGE_PAGES = ["/inbox/canned/new/"]

EXPECTED = {
    Role.OWNER: (200, 200),
    Role.MANAGER: (200, 200),
    Role.AGENT: (200, 403),
    Role.HR: (403, 403),
    Role.EMPLOYEE: (403, 403),
}


@pytest.mark.parametrize("role", list(EXPECTED))
def test_pages_per_role(role, no_engine):
    conversation = ConversationFactory(status=Status.OPEN)
    client = _client(role)
    read, manage = EXPECTED[role]

    seen = {url: client.get(url.format(pk=conversation.pk)).status_code for url in READ_PAGES}
    assert seen == dict.fromkeys(READ_PAGES, read)
    assert {url: client.get(url).status_code for url in MANAGE_PAGES} == dict.fromkeys(MANAGE_PAGES, manage)
    reply = client.post(f"/inbox/{conversation.pk}/reply/", {"body": "Hello"})
    assert reply.status_code == (302 if read == 200 else 403)
    assert conversation.messages.count() == (1 if read == 200 else 0)


@pytest.mark.parametrize("role", list(EXPECTED))
def test_the_conversation_api_per_role(role, api_client_for):
    ConversationFactory(status=Status.OPEN)
    client = api_client_for(UserFactory(email=f"{role}@example.com", role=role))

    expected = 200 if EXPECTED[role][0] == 200 else 403
    assert client.get("/api/v1/inbox/conversations/").status_code == expected
    assert client.get("/api/v1/inbox/canned-responses/").status_code == expected
    assert client.get("/api/v1/inbox/csat/").status_code == expected
