"""The owner chooses, per action type, whether it runs on its own, asks first, or never runs."""

from __future__ import annotations

import pytest
from django.test import Client

from heedful.accounts.models import User
from heedful.governance.models import ActionPolicy, AuditEvent, PolicyMode

pytestmark = pytest.mark.django_db

PAGE = "/trust/policies/"


def test_the_owner_sees_every_action_type_with_the_mode_in_force(owner_client: Client, owner: User) -> None:
    ActionPolicy.objects.create(action_type="test.permanent", mode=PolicyMode.NEVER, updated_by=owner)

    response = owner_client.get(PAGE)

    rows = [(r.action_type.name, r.mode, r.chosen is not None) for r in response.context["rows"]]
    assert rows == [("test.note", "ask", False), ("test.permanent", "never", True)]
    html = response.content.decode()
    assert 'Ask first <span class="muted">(default)</span>' in html
    assert '<label for="mode-1" class="visually-hidden">Policy for Write a test note</label>' in html
    assert '<option value="never" selected>Never</option>' in html


@pytest.mark.parametrize("client_name", ["manager_client", "agent_client", "employee_client"])
def test_only_the_owner_manages_policies(client_name: str, request: pytest.FixtureRequest) -> None:
    client: Client = request.getfixturevalue(client_name)

    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"action_type": "test.note", "mode": "auto"}).status_code == 403
    assert ActionPolicy.objects.count() == 0


def test_changing_a_policy_goes_through_the_audited_service(owner_client: Client, owner: User) -> None:
    response = owner_client.post(PAGE, {"action_type": "test.note", "mode": "auto"}, follow=True)

    assert response.redirect_chain == [(PAGE, 302)]
    assert [str(m) for m in response.context["messages"]] == ["Policy saved."]
    assert list(ActionPolicy.objects.values_list("action_type", "mode", "updated_by")) == [
        ("test.note", "auto", owner.pk)
    ]
    event = AuditEvent.objects.get(action="policy.change")
    assert (event.actor_user, event.summary) == (owner, "Policy for test.note: ask → auto")


@pytest.mark.parametrize(
    "data", [{"action_type": "test.note", "mode": "sometimes"}, {"action_type": "crm.nope", "mode": "auto"}]
)
def test_an_unknown_mode_or_action_changes_nothing(owner_client: Client, data: dict[str, str]) -> None:
    response = owner_client.post(PAGE, data, follow=True)

    assert [str(m) for m in response.context["messages"]] == ["Choose one of the listed policies."]
    assert ActionPolicy.objects.count() == 0
    assert not AuditEvent.objects.filter(action="policy.change").exists()
