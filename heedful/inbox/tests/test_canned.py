"""Canned responses: tokens with defaults, the editor and its preview, insertion, the API, roles."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from heedful.governance.models import AuditEvent
from heedful.inbox import canned
from heedful.inbox.models import CannedResponse, Channel, Status
from heedful.inbox.tests.factories import ConversationFactory, OrderFactory

pytestmark = pytest.mark.django_db

GREETING = (
    'Hi {{ customer.first_name|default:"there" }}, your order {{order.number}} is {{ order.status }}.'
    " – {{ agent.first_name }}"
)


def test_tokens_are_filled_for_the_conversation_with_defaults_for_unknown_values(agent):
    anna = ConversationFactory(
        channel=Channel.EMAIL, customer_email="anna@example.com", customer_name="Anna Berg"
    )
    OrderFactory(number="HF-10007", customer_email="anna@example.com")
    visitor = ConversationFactory(channel=Channel.CHAT)

    assert (
        canned.render_canned(GREETING, conversation=anna, agent=agent)
        == "Hi Anna, your order HF-10007 is Shipped. – Ana"
    )
    assert (
        canned.render_canned(GREETING, conversation=visitor, agent=agent)
        == "Hi there, your order  is . – Ana"
    )


def test_unknown_or_broken_tokens_are_refused_when_saved(manager):
    with pytest.raises(ValidationError) as caught:
        canned.create_canned_response(
            title="Bad",
            shortcut="bad",
            body="Hi {{ customer.frist_name }} {{ nope }} {{ agent.name",
            user=manager,
        )

    assert caught.value.message_dict["body"] == [
        "Unknown token 'customer.frist_name'; use one of: customer.first_name, customer.name, "
        "customer.email, agent.first_name, agent.name, order.number, order.status, business.name.",
        "{{ nope }} is not a token (write {{ customer.first_name }}).",
        "A token is not closed with }}.",
    ]
    assert CannedResponse.objects.count() == 0


def test_a_manager_creates_edits_and_deletes_on_the_pages_and_each_change_is_audited(manager_client):
    response = manager_client.post(
        "/inbox/canned/new/",
        {"title": "Refund", "shortcut": "Refund", "body": "Hello {{ customer.first_name }}"},
    )
    assert response.status_code == 302
    item = CannedResponse.objects.get()
    assert (item.title, item.shortcut, item.body) == ("Refund", "refund", "Hello {{ customer.first_name }}")

    response = manager_client.post(
        f"/inbox/canned/{item.pk}/edit/",
        {"title": "Refunds", "shortcut": "refund", "body": "Hi {{ nope.x }}"},
    )
    assert response.status_code == 400
    assert "Unknown token &#x27;nope.x&#x27;" in response.content.decode()
    manager_client.post(
        f"/inbox/canned/{item.pk}/edit/", {"title": "Refunds", "shortcut": "refund", "body": "Hi"}
    )
    item.refresh_from_db()
    assert (item.title, item.body) == ("Refunds", "Hi")

    assert manager_client.post(f"/inbox/canned/{item.pk}/delete/").status_code == 302
    assert CannedResponse.objects.count() == 0
    assert list(
        AuditEvent.objects.filter(action__startswith="inbox.canned")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["inbox.canned.create", "inbox.canned.update", "inbox.canned.delete"]


def test_shortcuts_are_unique(manager_client, manager):
    canned.create_canned_response(title="Refund", shortcut="refund", body="A", user=manager)

    response = manager_client.post(
        "/inbox/canned/new/", {"title": "Other", "shortcut": "refund", "body": "B"}
    )

    assert response.status_code == 400
    assert "The shortcut &#x27;refund&#x27; is taken." in response.content.decode()


def test_the_preview_shows_sample_values_and_problems(manager_client):
    response = manager_client.post(
        "/inbox/canned/preview/", {"body": "Hi {{ customer.first_name }} {{ x.y }}"}
    )

    html = response.content.decode()
    assert "Hi Anna " in html
    assert "Unknown token &#x27;x.y&#x27;" in html


def test_agents_use_canned_responses_but_do_not_edit_them(agent_client, manager):
    item = canned.create_canned_response(title="Refund", shortcut="refund", body="B", user=manager)

    assert agent_client.get("/inbox/canned/").status_code == 200
    assert agent_client.get("/inbox/canned/new/").status_code == 403
    assert agent_client.post(f"/inbox/canned/{item.pk}/edit/", {"title": "x", "body": "y"}).status_code == 403
    assert agent_client.post(f"/inbox/canned/{item.pk}/delete/").status_code == 403
    assert agent_client.post("/inbox/canned/preview/", {"body": "x"}).status_code == 403
    assert CannedResponse.objects.get().title == "Refund"


def test_inserting_adds_the_filled_text_after_what_the_agent_wrote(agent_client, manager):
    conversation = ConversationFactory(status=Status.OPEN, customer_name="Anna Berg")
    item = canned.create_canned_response(
        title="Thanks", shortcut="thanks", body="Thanks, {{ customer.first_name }}!", user=manager
    )

    by_id = agent_client.get(
        f"/inbox/{conversation.pk}/canned/",
        {"canned": item.pk, "body": "Sorry for the wait."},
        HTTP_HX_REQUEST="true",
    )
    by_shortcut = agent_client.get(f"/inbox/{conversation.pk}/canned/", {"shortcut": "/thanks", "body": ""})
    unknown = agent_client.get(f"/inbox/{conversation.pk}/canned/", {"shortcut": "nope", "body": "Kept"})

    assert by_id.context["reply_text"] == "Sorry for the wait.\n\nThanks, Anna!"
    assert by_shortcut.context["reply_text"] == "Thanks, Anna!"
    assert unknown.context["reply_text"] == "Kept"
    assert "No canned response with the shortcut “nope”." in unknown.content.decode()


def test_the_api_reads_for_agents_and_writes_for_managers(api_client_for, agent, manager):
    conversation = ConversationFactory(customer_name="Anna Berg")
    as_manager, as_agent = api_client_for(manager), api_client_for(agent)

    created = as_manager.post(
        "/api/v1/inbox/canned-responses/",
        {"title": "Hi", "shortcut": "hi", "body": "Hi {{ customer.first_name }}"},
    )
    assert created.status_code == 201
    pk = created.json()["id"]
    assert as_agent.post("/api/v1/inbox/canned-responses/", {"title": "x", "body": "y"}).status_code == 403
    assert as_agent.patch(f"/api/v1/inbox/canned-responses/{pk}/", {"title": "x"}).status_code == 403
    assert [
        r["id"] for r in as_agent.get("/api/v1/inbox/canned-responses/?shortcut=hi").json()["results"]
    ] == [pk]
    rendered = as_agent.post(
        f"/api/v1/inbox/canned-responses/{pk}/render/", {"conversation": conversation.pk}
    )
    assert rendered.json() == {"text": "Hi Anna"}
    bad = as_manager.patch(f"/api/v1/inbox/canned-responses/{pk}/", {"body": "{{ x.y }}"}, format="json")
    assert bad.status_code == 400
    assert as_manager.delete(f"/api/v1/inbox/canned-responses/{pk}/").status_code == 204
