"""CSAT (C9): asked once after resolution, answered by a signed link, results per agent with privacy."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.utils import timezone

from heedful.crm.models import Contact
from heedful.governance.models import DecisionRecord
from heedful.inbox import csat, queries, services
from heedful.inbox.models import Author, Channel, CsatRequest, Delivery, Status
from heedful.inbox.tasks import send_csat_task
from heedful.inbox.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


def _resolved_email_conversation(agent, email="anna@example.com", name="Anna Berg"):  # type: ignore[no-untyped-def]
    conversation = services.start_conversation(
        channel=Channel.EMAIL, customer_email=email, customer_name=name
    )
    services.receive_customer_message(conversation=conversation, body="Where is my tea?", bot=False)
    services.reply_as_agent(conversation=conversation, user=agent, body="On its way.")
    return services.resolve_conversation(conversation=conversation, user=agent)


def _path(url: str) -> str:
    return urlsplit(url).path


def test_resolving_queues_the_question_and_the_task_asks_once_by_email(
    agent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        conversation = _resolved_email_conversation(agent)
    assert len(callbacks) >= 1  # the reply's email and the CSAT question

    assert send_csat_task(conversation.pk) is True
    assert send_csat_task(conversation.pk) is False  # a repeat asks nothing

    question = CsatRequest.objects.get(conversation=conversation)
    assert question.agent == agent
    assert question.rating is None
    message = question.message
    assert message is not None
    assert (message.author_kind, message.delivery) == (Author.SYSTEM, Delivery.PENDING)
    assert message.body.startswith("Hello Anna,\n\nwe marked your conversation with")
    links = re.findall(r"http://\S+/inbox/csat/\S+/(\d)/", message.body)
    assert links == ["5", "4", "3", "2", "1"]
    assert message.in_reply_to  # threaded as a reply to the conversation
    decision = DecisionRecord.objects.get(pk=question.decision_id)
    assert decision.actor_name == "inbox-csat"
    assert decision.output == {"action": "ask_csat", "channel": "email"}
    assert decision.outcome == f"Question sent (message #{message.pk})"
    assert decision.subject_type == "contact"


def test_a_chat_gets_the_question_in_the_conversation_with_the_link(agent):
    conversation = ConversationFactory(channel=Channel.CHAT, status=Status.RESOLVED, assignee=agent)

    question = csat.send_csat_request(conversation)

    assert question is not None
    body = question.message.body  # type: ignore[union-attr]
    url = csat.rating_url(question)
    assert body == f"How did it go? Please rate our help from 1 to 5 (one click): {url}"
    assert question.message.delivery == ""  # type: ignore[union-attr]
    assert question.message.is_visible_to_customer  # type: ignore[union-attr]


def test_nothing_is_asked_when_not_resolved_or_unreachable(agent):
    open_one = ConversationFactory(channel=Channel.EMAIL, status=Status.OPEN, customer_email="a@example.com")
    no_address = ConversationFactory(channel=Channel.EMAIL, status=Status.RESOLVED, customer_email="")

    assert csat.send_csat_request(open_one) is None
    assert csat.send_csat_request(no_address) is None
    assert CsatRequest.objects.count() == 0


def test_a_rating_link_stores_the_rating_and_answering_again_updates_it(client, agent):
    conversation = _resolved_email_conversation(agent)
    question = csat.send_csat_request(conversation)
    assert question is not None

    response = client.get(_path(csat.rating_url(question, 2)))
    assert response.status_code == 200
    assert "Thank you! Your rating: 2 of 5." in response.content.decode()

    response = client.post(
        _path(csat.rating_url(question)), {"rating": "4", "comment": "  Quick and kind.  "}
    )
    assert response.status_code == 200

    assert CsatRequest.objects.count() == 1
    question.refresh_from_db()
    assert (question.rating, question.comment) == (4, "Quick and kind.")
    contact = Contact.objects.get(email="anna@example.com")
    entries = list(
        contact.timeline.filter(kind="survey").order_by("occurred_at", "id").values_list("title", "body")
    )
    assert entries == [
        (f"Rated conversation #{conversation.pk}: 2/5 (Unhappy)", ""),
        (f"Changed the rating of conversation #{conversation.pk}: 4/5 (Happy)", "“Quick and kind.”"),
    ]
    decision = DecisionRecord.objects.get(pk=question.decision_id)
    assert decision.outcome == "The customer rated it 4/5"

    # The same click again changes nothing (no new timeline entry); the comment stays.
    client.get(_path(csat.rating_url(question, 4)))
    question.refresh_from_db()
    assert (question.rating, question.comment) == (4, "Quick and kind.")
    assert contact.timeline.filter(kind="survey").count() == 2


def test_forged_tampered_or_out_of_range_links_store_nothing(client, agent):
    conversation = _resolved_email_conversation(agent)
    question = csat.send_csat_request(conversation)
    assert question is not None
    forged = signing.dumps(question.pk, salt="something else", compress=True)

    assert client.get(f"/inbox/csat/{forged}/5/").status_code == 404
    assert client.get(f"/inbox/csat/{csat.token_for(question)}x/5/").status_code == 404
    response = client.get(f"/inbox/csat/{csat.token_for(question)}/9/")
    assert response.status_code == 400
    assert "Please choose a rating from 1 to 5." in response.content.decode()
    question.refresh_from_db()
    assert question.rating is None


def _answered(agent, rating, *, days_ago=1, comment=""):  # type: ignore[no-untyped-def]
    conversation = ConversationFactory(channel=Channel.CHAT, status=Status.RESOLVED, assignee=agent)
    question = csat.send_csat_request(conversation)
    assert question is not None
    CsatRequest.objects.filter(pk=question.pk).update(sent_at=timezone.now() - timedelta(days=days_ago))
    if rating is not None:
        csat.record_csat_answer(request=question, rating=rating, comment=comment)
    return question


@pytest.fixture
def ratings(agent, manager):  # type: ignore[no-untyped-def]
    """Ana: 5, 4, 2 answered and one unanswered; Max: 3; an old one of Ana's, 60 days ago."""
    for rating in (5, 4, 2, None):
        _answered(agent, rating)
    _answered(manager, 3, comment="Slow")
    _answered(agent, 1, days_ago=60)


def test_managers_see_every_agent_and_the_total(manager, agent, ratings):
    rows, overall = queries.csat_results(user=manager, days=30)

    assert [r.as_dict() for r in rows] == [
        {
            "agent": agent.pk,
            "agent_name": agent.display_name,
            "sent": 4,
            "answered": 3,
            "average": 3.67,
            "satisfied_share": 0.667,
            "response_rate": 0.75,
        },
        {
            "agent": manager.pk,
            "agent_name": manager.display_name,
            "sent": 1,
            "answered": 1,
            "average": 3.0,
            "satisfied_share": 0.0,
            "response_rate": 1.0,
        },
    ]
    assert overall is not None
    assert (overall.sent, overall.answered, overall.average, overall.satisfied_share) == (5, 4, 3.5, 0.5)
    _rows90, overall90 = queries.csat_results(user=manager, days=90)
    assert (overall90.sent, overall90.answered, overall90.average) == (6, 5, 3.0)  # type: ignore[union-attr]


def test_an_agent_sees_only_their_own_results(agent_client, agent, manager, ratings):
    response = agent_client.get("/inbox/report/")

    html = response.content.decode()
    assert response.status_code == 200
    assert [[r.label for r in w["rows"]] for w in response.context["windows"]] == [
        [agent.display_name],
        [agent.display_name],
    ]
    assert [w["overall"] for w in response.context["windows"]] == [None, None]
    assert "Slow" not in html  # Max's customer's comment
    assert manager.display_name not in html


def test_the_report_page_and_the_api_show_managers_everything(
    manager_client, api_client_for, manager, ratings
):
    html = manager_client.get("/inbox/report/").content.decode()
    assert "Slow" in html
    assert "67 %" in html  # Ana's share satisfied in the last 30 days

    data = api_client_for(manager).get("/api/v1/inbox/csat/?days=90").json()
    assert data["days"] == 90
    assert [row["sent"] for row in data["agents"]] == [5, 1]
    assert data["overall"]["average"] == 3.0
    # One object, as the schema now says (it documented a page of rows).
    schema = api_client_for(manager).get("/api/openapi.json").json()
    ok = schema["paths"]["/api/v1/inbox/csat/"]["get"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": "#/components/schemas/CsatResults"}


def test_the_api_keeps_agents_to_their_own_row_and_checks_days(api_client_for, agent, ratings):
    client = api_client_for(agent)

    data = client.get("/api/v1/inbox/csat/").json()
    assert [row["agent"] for row in data["agents"]] == [agent.pk]
    assert data["overall"] is None
    assert client.get("/api/v1/inbox/csat/?days=abc").status_code == 400


def test_employees_get_no_report(employee_client, api_client_for, employee):
    assert employee_client.get("/inbox/report/").status_code == 403
    assert api_client_for(employee).get("/api/v1/inbox/csat/").status_code == 403


def test_a_workflow_asks_through_the_governed_action_once(agent):
    from heedful.governance import services as governance
    from heedful.governance.models import ProposalStatus

    conversation = ConversationFactory(channel=Channel.CHAT, status=Status.RESOLVED, assignee=agent)

    def propose(key: str):  # type: ignore[no-untyped-def]
        proposal = governance.propose_action(
            action_type="inbox.ask_csat",
            params={"conversation_id": conversation.pk},
            explanation="CSAT after resolution",
            proposed_by="workflow:csat",
            idempotency_key=key,
        )
        return governance.execute_action(proposal.pk) or proposal

    first, second = propose("one"), propose("two")

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (ProposalStatus.DONE, ProposalStatus.DONE)
    assert first.result["summary"] == f"Asked how conversation #{conversation.pk} went"
    assert second.result["summary"].startswith(f"Not asked: conversation #{conversation.pk} was asked before")
    assert CsatRequest.objects.filter(conversation=conversation).count() == 1


def test_the_conversation_page_shows_the_rating(agent_client, agent):
    conversation = ConversationFactory(channel=Channel.CHAT, status=Status.RESOLVED, assignee=agent)
    unasked = ConversationFactory(channel=Channel.CHAT, status=Status.RESOLVED, assignee=agent)
    question = csat.send_csat_request(conversation)
    assert question is not None
    csat.record_csat_answer(request=question, rating=5, comment="Lovely")

    assert (
        '<p id="csat-result">5/5: “Lovely”</p>'
        in agent_client.get(f"/inbox/{conversation.pk}/").content.decode()
    )
    assert 'id="csat-result"' not in agent_client.get(f"/inbox/{unasked.pk}/").content.decode()


@pytest.mark.parametrize(
    ("body", "rating"),
    [
        ("4", 4),
        ("  5/5!\n\n> How did it go?", 5),
        ("2 out of 5", 2),
        ("3 of 5.", 3),
        ("6", None),
        ("4 stars but the tea was cold", None),
        ("Where is my other order?", None),
    ],
)
def test_a_reply_that_is_only_a_rating_is_read_as_one(body, rating):
    assert csat.rating_in_reply(body) == rating


def test_replying_5_to_the_question_rates_and_keeps_the_conversation_resolved(agent, no_engine):
    conversation = _resolved_email_conversation(agent)
    question = csat.send_csat_request(conversation)
    assert question is not None

    services.receive_customer_message(conversation=conversation, body="5\n\n> How did it go?")

    conversation.refresh_from_db()
    question.refresh_from_db()
    assert (conversation.status, question.rating) == (Status.RESOLVED, 5)
    assert conversation.messages.filter(body__startswith="5\n").count() == 1  # nothing lost

    services.receive_customer_message(conversation=conversation, body="Actually, one more question")

    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN  # a real message reopens it, as before
