"""A person reverses a bot answer that did not fit: the question goes on the knowledge base's
list of questions it does not cover, and the decision record says who reversed it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils import timezone

from heedful.governance.models import AuditEvent
from heedful.inbox import services
from heedful.inbox.models import Author
from heedful.inbox.tests.factories import ConversationFactory
from heedful.knowledge.models import UncoveredQuestion

pytestmark = pytest.mark.django_db

WEDNESDAY_10 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _open_hours(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.HEEDFUL_BUSINESS_HOURS = "mon-fri 09:00-17:00"
    settings.BUSINESS_TIME_ZONE = "UTC"
    monkeypatch.setattr(timezone, "now", lambda: WEDNESDAY_10)


def _answered(text: str) -> tuple[Any, Any]:
    conversation = ConversationFactory()
    services.receive_customer_message(conversation=conversation, body=text)
    answer = conversation.messages.get(author_kind=Author.BOT)
    return conversation, answer


def test_a_manager_marks_a_bot_answer_wrong(
    fake_engine: Any, shipping_entry: Any, manager: Any, manager_client: Any
) -> None:
    conversation, answer = _answered("how long does shipping take for a gift voucher")
    page = manager_client.get(f"/inbox/{conversation.pk}/").content.decode()
    assert f'action="/inbox/{conversation.pk}/messages/{answer.pk}/wrong-answer/"' in page

    response = manager_client.post(
        f"/inbox/{conversation.pk}/messages/{answer.pk}/wrong-answer/", follow=True
    )

    again = manager_client.post(f"/inbox/{conversation.pk}/messages/{answer.pk}/wrong-answer/")
    assert again.status_code == 302  # marking twice changes nothing
    question = UncoveredQuestion.objects.get()
    assert (question.text, question.wrongly_answered_with, question.added_by.email) == (
        "how long does shipping take for a gift voucher",
        shipping_entry,
        "max@example.com",
    )
    answer.decision.refresh_from_db()
    assert answer.decision.outcome == (
        f"Sent to the customer (message #{answer.pk}); marked wrong by {manager.display_name} (2026-11-25): "
        "the question is not covered"
    )
    assert AuditEvent.objects.filter(action="knowledge.uncovered.add").count() == 1
    assert [str(m) for m in response.context["messages"]] == [
        "Marked wrong. “how long does shipping take for a gift voucher” is on the knowledge base's list "
        "of questions it does not cover: the bot hands it, and questions like it, to a person once it "
        "has relearnt."
    ]
    knowledge_page = manager_client.get("/knowledge/").content.decode()
    assert "<td>how long does shipping take for a gift voucher</td>" in knowledge_page


def test_an_agent_may_not_and_does_not_see_the_button(
    fake_engine: Any, shipping_entry: Any, agent_client: Any
) -> None:
    conversation, answer = _answered("how long does shipping take for a gift voucher")

    page = agent_client.get(f"/inbox/{conversation.pk}/").content.decode()
    refused = agent_client.post(f"/inbox/{conversation.pk}/messages/{answer.pk}/wrong-answer/")

    assert "wrong-answer" not in page
    assert refused.status_code == 403
    assert UncoveredQuestion.objects.count() == 0


def test_only_a_bot_answer_from_the_knowledge_base_can_be_marked(
    fake_engine: Any, shipping_entry: Any, manager_client: Any
) -> None:
    conversation, _answer = _answered("how long does shipping take for a gift voucher")
    asked = conversation.messages.get(author_kind=Author.CUSTOMER)

    response = manager_client.post(f"/inbox/{conversation.pk}/messages/{asked.pk}/wrong-answer/", follow=True)
    elsewhere = manager_client.post(f"/inbox/{ConversationFactory().pk}/messages/{asked.pk}/wrong-answer/")

    assert [str(m) for m in response.context["messages"]] == [
        "Only an answer the bot gave from the knowledge base can be marked wrong."
    ]
    assert elsewhere.status_code == 404
    assert UncoveredQuestion.objects.count() == 0


def test_the_polled_message_list_is_sent_only_when_it_changed(
    fake_engine: Any, shipping_entry: Any, manager_client: Any
) -> None:
    conversation, _answer = _answered("how long does shipping take")
    page = manager_client.get(f"/inbox/{conversation.pk}/").content.decode()
    seen = re.search(rf'hx-get="/inbox/{conversation.pk}/messages/\?seen=([0-9a-f]+)"', page)
    assert seen is not None

    unchanged = manager_client.get(
        f"/inbox/{conversation.pk}/messages/?seen={seen[1]}", HTTP_HX_REQUEST="true"
    )
    services.receive_customer_message(conversation=conversation, body="thanks!", bot=False)
    changed = manager_client.get(f"/inbox/{conversation.pk}/messages/?seen={seen[1]}", HTTP_HX_REQUEST="true")

    assert (unchanged.status_code, unchanged.content) == (204, b"")
    assert changed.status_code == 200
    assert "thanks!" in changed.content.decode()
    assert f'?seen={seen[1]}"' not in changed.content.decode()
