"""A manager marks a bot answer wrong in a real Chromium, while the message list keeps itself up
to date, and takes the question off the knowledge base's list again."""

from __future__ import annotations

from typing import Any

import pytest

from heedful.accounts.roles import Role
from heedful.accounts.tests.factories import UserFactory
from heedful.inbox import services
from heedful.inbox.tests.factories import ConversationFactory
from heedful.knowledge.models import UncoveredQuestion

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "how long does shipping take for a gift voucher"


def test_a_manager_marks_a_bot_answer_wrong_in_a_live_conversation(
    browser: Any, live_server: Any, fake_engine: Any, shipping_entry: Any
) -> None:
    UserFactory(email="max@example.com", first_name="Max", role=Role.MANAGER, password="pw-horse-battery")
    conversation = ConversationFactory(customer_name="Anna Berg")
    services.receive_customer_message(conversation=conversation, body=QUESTION)
    page = browser.new_context().new_page()
    failures: list[str] = []
    page.on("pageerror", lambda exc: failures.append(str(exc)))
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email address").fill("max@example.com")
    page.get_by_label("Password").fill("pw-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")

    # An unchanged list is not sent again; a new message still appears without a reload.
    with page.expect_response(lambda r: "/messages/?seen=" in r.url and r.status == 204, timeout=10_000):
        page.goto(f"{live_server.url}/inbox/{conversation.pk}/")
    services.receive_customer_message(conversation=conversation, body="hello? anyone?", bot=False)
    page.locator(".inbox-msg", has_text="hello? anyone?").wait_for(timeout=10_000)

    page.locator(".inbox-bot").get_by_role("button", name="Wrong answer").click()
    page.wait_for_url(f"{live_server.url}/inbox/{conversation.pk}/")
    assert page.locator(".message").inner_text().startswith(f"Marked wrong. “{QUESTION}” is on the")
    question = UncoveredQuestion.objects.get()
    assert (question.text, question.wrongly_answered_with_id) == (QUESTION, shipping_entry.pk)

    page.goto(f"{live_server.url}/knowledge/#uncovered")
    row = page.locator("#uncovered tr", has_text=QUESTION)
    assert row.locator("td").nth(1).inner_text() == "How long does shipping take?"
    row.get_by_role("button", name=f"Remove “{QUESTION}”").click()
    page.wait_for_url(f"{live_server.url}/knowledge/#uncovered")
    assert (
        page.locator(".message").inner_text() == f"“{QUESTION}” is off the list; the bot may answer it again."
    )
    assert UncoveredQuestion.objects.count() == 0
    assert failures == []
