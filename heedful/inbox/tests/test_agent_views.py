"""The agents' pages: list by priority with reasons, the conversation, reply, note, hand back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from heedful.accounts.roles import Role
from heedful.accounts.tests.factories import UserFactory
from heedful.governance.models import AuditEvent
from heedful.inbox import services
from heedful.inbox.models import Author, Channel, Conversation, Direction, Message, Status
from heedful.inbox.tests.factories import ConversationFactory, OrderFactory
from heedful.knowledge import matching
from heedful.knowledge.tests.fixtures import training_elsewhere

pytestmark = pytest.mark.django_db


def test_the_inbox_lists_conversations_by_priority_with_the_reason(agent_client):
    calm = ConversationFactory(
        status=Status.OPEN, priority=1.0, priority_reason="waited 2 h", customer_name="Calm"
    )
    upset = ConversationFactory(
        status=Status.OPEN,
        priority=6.0,
        priority_reason="negative, third contact this week, waited 26 h",
        customer_name="Upset",
    )

    response = agent_client.get("/inbox/")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Upset") < html.index("Calm")
    assert "negative, third contact this week, waited 26 h" in html
    assert [c.pk for c in response.context["rows"]] == [upset.pk, calm.pk]


def test_the_inbox_list_takes_a_fixed_number_of_queries(agent_client, django_assert_num_queries):
    for i in range(5):
        ConversationFactory(status=Status.OPEN, priority=float(i))
    agent_client.get("/inbox/")  # warm the session

    with django_assert_num_queries(
        4
    ):  # session, user, the count for the pages, rows with their latest message
        agent_client.get("/inbox/", HTTP_HX_REQUEST="true")


def test_the_resolved_view_shows_the_latest_first_and_pages_reach_every_conversation(agent_client):
    start = timezone.now() - timedelta(days=90)
    made = [
        ConversationFactory(
            status=Status.RESOLVED, resolved_at=start + timedelta(days=i), customer_name=f"C{i}"
        )
        for i in range(60)
    ]

    first = agent_client.get("/inbox/?view=resolved")
    second = agent_client.get("/inbox/?view=resolved&page=2")

    newest_first = [c.pk for c in reversed(made)]
    assert [c.pk for c in first.context["rows"]] == newest_first[:50]
    assert [c.pk for c in second.context["rows"]] == newest_first[50:]
    html = first.content.decode()
    assert "60 conversations" in html
    assert "Page 1 of 2" in html
    assert 'href="?view=resolved&amp;page=2"' in html


def test_each_view_link_says_how_many_conversations_it_holds(agent_client, agent):
    for status, n in ((Status.OPEN, 3), (Status.BOT, 2), (Status.WAITING, 1), (Status.RESOLVED, 4)):
        for _ in range(n):
            ConversationFactory(status=status)
    ConversationFactory(status=Status.OPEN, assignee=agent)

    everyone = agent_client.get("/inbox/")
    mine = agent_client.get("/inbox/?mine=1")

    assert [(key, count) for key, _label, count in everyone.context["views"]] == [
        ("open", 4),
        ("bot", 2),
        ("waiting", 1),
        ("resolved", 4),
        ("all", 11),
    ]
    assert [count for _key, _label, count in mine.context["views"]] == [1, 0, 0, 0, 1]


def _said(conversation, body):  # type: ignore[no-untyped-def]
    return Message.objects.create(
        conversation=conversation, direction=Direction.IN, author_kind=Author.CUSTOMER, body=body
    )


def test_the_search_finds_a_conversation_by_every_word_in_any_field_or_message(agent_client):
    anna = ConversationFactory(
        status=Status.RESOLVED, customer_name="Anna Berg", customer_email="anna@example.com"
    )
    _said(anna, "I would like a refund for the teapot")
    ben = ConversationFactory(
        status=Status.RESOLVED, customer_email="ben@example.org", subject="Refund please"
    )
    tagged = ConversationFactory(status=Status.OPEN, customer_name="Cleo", tags=["wholesale"])
    ConversationFactory(status=Status.RESOLVED, customer_name="Dora")

    def found(query: str, view: str = "all") -> list[int]:
        response = agent_client.get("/inbox/", {"view": view, "q": query})
        return sorted(c.pk for c in response.context["rows"])

    assert found("refund") == sorted([anna.pk, ben.pk])  # a message, a subject
    assert found("anna refund") == [anna.pk]  # every word, each in its own field
    assert found("EXAMPLE.ORG") == [ben.pk]
    assert found("wholesale") == [tagged.pk]
    assert found(f"#{tagged.pk}") == [tagged.pk]
    assert found("refund", view="open") == []  # the search stays inside the view
    empty = agent_client.get("/inbox/", {"view": "all", "q": "zebra"}).content.decode()
    assert "No conversation in this view matches “zebra”." in empty


def test_a_search_keeps_its_view_and_words_in_the_links_and_the_live_refresh(agent_client):
    ConversationFactory(status=Status.OPEN, customer_name="Anna")

    html = agent_client.get("/inbox/", {"view": "open", "q": "anna", "mine": "1"}).content.decode()

    assert 'hx-get="/inbox/?view=open&amp;q=anna&amp;mine=1"' in html
    assert 'href="?view=resolved&amp;q=anna&amp;mine=1"' in html
    assert 'href="?view=open&amp;q=anna"' in html  # "Assigned to me" toggles off, the words stay
    assert 'value="anna"' in html


def test_an_unknown_view_or_page_falls_back_instead_of_failing(agent_client):
    conversation = ConversationFactory(status=Status.OPEN)

    response = agent_client.get("/inbox/", {"view": "nonsense", "page": "999"})

    assert response.status_code == 200
    assert response.context["view"] == "open"
    assert [c.pk for c in response.context["rows"]] == [conversation.pk]


def test_the_api_searches_conversations_too(api_client_for, agent):
    anna = ConversationFactory(status=Status.OPEN, customer_name="Anna Berg")
    _said(anna, "Where is my parcel?")
    ConversationFactory(status=Status.OPEN, customer_name="Ben")

    rows = api_client_for(agent).get("/api/v1/inbox/conversations/", {"q": "parcel"}).json()["results"]

    assert [row["id"] for row in rows] == [anna.pk]


def test_employees_cannot_see_the_inbox(employee_client):
    assert employee_client.get("/inbox/").status_code == 403


def test_the_conversation_shows_messages_orders_and_kb_suggestions(agent_client, fake_engine, shipping_entry):
    conversation = services.start_conversation(channel=Channel.EMAIL, customer_email="anna@example.com")
    OrderFactory(number="HF-10001", customer_email="anna@example.com")
    services.receive_customer_message(conversation=conversation, body="when will my parcel arrive", bot=False)

    response = agent_client.get(f"/inbox/{conversation.pk}/")

    html = response.content.decode()
    assert "when will my parcel arrive" in html
    assert "HF-10001" in html
    # The suggestions load in their own request, so a retraining matcher never holds the page.
    assert response.context["suggestions"] is None
    assert f'hx-get="/inbox/{conversation.pk}/suggestions/" hx-trigger="load"' in html
    suggested = agent_client.get(f"/inbox/{conversation.pk}/suggestions/", HTTP_HX_REQUEST="true")
    assert [e.pk for e, _score in suggested.context["suggestions"]] == [shipping_entry.pk]
    assert "Use this answer" in suggested.content.decode()
    inline = agent_client.get(f"/inbox/{conversation.pk}/?suggest=1")  # without JavaScript
    assert [e.pk for e, _score in inline.context["suggestions"]] == [shipping_entry.pk]


def test_while_the_bot_relearns_the_suggestions_say_so_instead_of_that_nothing_comes_close(
    agent_client, fake_engine, shipping_entry, settings, tmp_path
):
    settings.DATA_DIR = tmp_path
    settings.HEEDFUL_BOT_READY_WAIT_SECONDS = 0
    conversation = services.start_conversation(channel=Channel.EMAIL, customer_email="anna@example.com")
    services.receive_customer_message(conversation=conversation, body="when will my parcel arrive", bot=False)
    url = f"/inbox/{conversation.pk}/suggestions/"

    with training_elsewhere(tmp_path / "knowledge" / matching.TRAINING_LOCK):
        during = agent_client.get(url, HTTP_HX_REQUEST="true")
    assert matching.ready(wait=60) is True
    after = agent_client.get(url, HTTP_HX_REQUEST="true")

    assert during.context["suggestions"] == []
    assert "still relearning the knowledge base after an edit" in during.content.decode()
    assert "No entry comes close" not in during.content.decode()
    # The panel asks again by itself until the bot is back.
    assert f'hx-get="{url}" hx-trigger="load delay:15s" hx-swap="outerHTML"' in during.content.decode()
    assert "hx-trigger" not in after.content.decode()
    assert [e.pk for e, _score in after.context["suggestions"]] == [shipping_entry.pk]


def test_an_agent_reply_is_stored_and_silences_the_bot(agent_client, agent, fake_engine, shipping_entry):
    conversation = ConversationFactory(status=Status.OPEN)

    response = agent_client.post(f"/inbox/{conversation.pk}/reply/", {"body": "Hello from Ana"})

    conversation.refresh_from_db()
    assert response.status_code == 302
    assert conversation.human_has_replied is True
    assert conversation.status == Status.WAITING
    assert conversation.assignee == agent
    assert list(conversation.messages.values_list("author_kind", "body")) == [
        (Author.AGENT, "Hello from Ana")
    ]


def test_a_note_is_internal(agent_client):
    conversation = ConversationFactory(status=Status.OPEN)

    agent_client.post(f"/inbox/{conversation.pk}/note/", {"body": "Call her back"})

    assert list(conversation.messages.values_list("direction", "body")) == [
        (Direction.INTERNAL, "Call her back")
    ]


def test_handing_back_lets_the_bot_answer_again(agent_client, agent):
    conversation = ConversationFactory(
        status=Status.WAITING, human_has_replied=True, bot_answers_unconfirmed=2
    )

    agent_client.post(f"/inbox/{conversation.pk}/hand-back/")

    conversation.refresh_from_db()
    assert (conversation.status, conversation.human_has_replied, conversation.bot_answers_unconfirmed) == (
        Status.BOT,
        False,
        0,
    )


def test_the_message_list_partial_is_served_for_polling(agent_client):
    conversation = ConversationFactory(status=Status.OPEN)
    services.receive_customer_message(conversation=conversation, body="anyone there?", bot=False)

    response = agent_client.get(f"/inbox/{conversation.pk}/messages/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert "anyone there?" in response.content.decode()
    assert "<html" not in response.content.decode()


def test_an_agent_tags_a_conversation_once(agent_client):
    conversation = ConversationFactory(status=Status.OPEN)

    agent_client.post(f"/inbox/{conversation.pk}/tag/", {"tag": " Refund "})
    agent_client.post(f"/inbox/{conversation.pk}/tag/", {"tag": "refund"})

    conversation.refresh_from_db()
    assert conversation.tags == ["refund"]
    assert "refund" in agent_client.get(f"/inbox/{conversation.pk}/").content.decode()


def test_the_conversation_lists_the_customers_latest_other_conversations_first(agent_client):
    now = timezone.now()
    older = [
        ConversationFactory(
            customer_email="anna@example.com", created_at=now - timedelta(days=d), priority=float(d)
        )
        for d in range(1, 13)
    ]
    current = ConversationFactory(customer_email="anna@example.com", created_at=now)

    response = agent_client.get(f"/inbox/{current.pk}/")

    assert [c.pk for c in response.context["ctx"].past] == [c.pk for c in older[:10]]


BULK = "/inbox/bulk/"


def _notes(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in response.context["messages"]]


def test_ticked_conversations_are_resolved_together_each_audited_and_back_on_the_same_page(
    agent_client, agent
):
    ticked = [ConversationFactory(status=Status.OPEN) for _ in range(3)]
    done_before = ConversationFactory(status=Status.RESOLVED)
    other = ConversationFactory(status=Status.OPEN)

    response = agent_client.post(
        BULK,
        {
            "ids": [str(c.pk) for c in [*ticked, done_before]],
            "do": "resolve",
            "view": "open",
            "q": "a b",
            "page": "2",
        },
        follow=True,
    )

    assert response.redirect_chain == [("/inbox/?view=open&q=a+b&page=2", 302)]
    statuses = dict(Conversation.objects.values_list("pk", "status"))
    assert [statuses[c.pk] for c in ticked] == [Status.RESOLVED] * 3
    assert statuses[other.pk] == Status.OPEN
    audited = AuditEvent.objects.filter(action="inbox.resolve").order_by("id")
    assert [(e.object_id, e.actor_user_id) for e in audited] == [(str(c.pk), agent.pk) for c in ticked]
    assert _notes(response) == ["Resolved 3 conversations. 1 was already so."]


def test_ticked_conversations_are_assigned_to_an_agent_or_tagged(agent_client, manager):
    ticked = [ConversationFactory(status=Status.OPEN) for _ in range(2)]
    ids = [str(c.pk) for c in ticked]
    hr = UserFactory(role=Role.HR)

    assigned = agent_client.post(BULK, {"ids": ids, "do": "assign", "assignee": str(manager.pk)}, follow=True)
    refused = agent_client.post(BULK, {"ids": ids, "do": "assign", "assignee": str(hr.pk)}, follow=True)
    tagged = agent_client.post(BULK, {"ids": ids, "do": "tag", "tag": " Wholesale "}, follow=True)
    untagged = agent_client.post(BULK, {"ids": ids, "do": "tag", "tag": "  "}, follow=True)

    assert _notes(assigned) == ["Assigned 2 conversations."]
    assert _notes(refused) == ["Choose someone who works in the inbox."]
    assert _notes(tagged) == ["Tagged 2 conversations."]
    assert _notes(untagged) == ["Write the tag to add."]
    assert list(Conversation.objects.order_by("pk").values_list("assignee", "tags")) == [
        (manager.pk, ["wholesale"]),
        (manager.pk, ["wholesale"]),
    ]


def test_bulk_needs_a_tick_a_known_action_and_the_inbox_right(agent_client, employee_client):
    conversation = ConversationFactory(status=Status.OPEN)

    nothing = agent_client.post(BULK, {"do": "resolve"}, follow=True)
    unknown = agent_client.post(BULK, {"ids": [str(conversation.pk)], "do": "delete"}, follow=True)
    hostile = agent_client.post(
        BULK, {"ids": ["1; drop", "-3"], "do": "assign", "assignee": "x"}, follow=True
    )
    forbidden = employee_client.post(BULK, {"ids": [str(conversation.pk)], "do": "resolve"})

    assert _notes(nothing) == ["Tick the conversations first."]
    assert _notes(unknown) == ["Choose what to do with them."]
    assert _notes(hostile) == ["Tick the conversations first."]
    assert forbidden.status_code == 403
    assert Conversation.objects.get().status == Status.OPEN
    assert agent_client.get(BULK).status_code == 405


def test_assigning_on_the_conversation_page_offers_and_accepts_inbox_workers_only(agent_client, manager):
    conversation = ConversationFactory(status=Status.OPEN)
    hr = UserFactory(role=Role.HR)

    page = agent_client.get(f"/inbox/{conversation.pk}/")
    refused = agent_client.post(f"/inbox/{conversation.pk}/assign/", {"assignee": str(hr.pk)}, follow=True)
    nonsense = agent_client.post(f"/inbox/{conversation.pk}/assign/", {"assignee": "abc"}, follow=True)

    assert manager in page.context["ctx"].agents
    assert hr not in page.context["ctx"].agents
    assert _notes(refused) == _notes(nonsense) == ["Choose someone who works in the inbox."]
    assert Conversation.objects.get().assignee is None
