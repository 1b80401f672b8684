"""Issue 4's "done when", in a real Chromium: a visitor chats on the demo page, gets a correct
answer from the knowledge base (the real text engine), asks for a person, and sees the reply
the agent types in the inbox; the agent sees the visitor's next message without reloading."""

from __future__ import annotations

from typing import Any

import pytest

from heedful.accounts.roles import Role
from heedful.accounts.tests.factories import UserFactory
from heedful.inbox.models import Conversation, Status
from heedful.knowledge import matching
from heedful.knowledge.services import create_faq_entry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def knowledge_base(settings: Any, tmp_path: Any) -> None:
    settings.DATA_DIR = tmp_path
    settings.HEEDFUL_BUSINESS_HOURS = "mon-sun 00:00-23:59"
    matching.forget_trained()
    create_faq_entry(
        question="How long does shipping take?",
        variants=["When will my parcel arrive", "delivery time", "how many days until my order arrives"],
        answer="We ship within 2 working days; delivery takes 1–3 days.",
        automation="tests",
    )
    create_faq_entry(
        question="How do I return an item?",
        variants=["return policy", "send something back", "can I get a refund"],
        answer="You can return anything within 30 days.",
        automation="tests",
    )
    create_faq_entry(
        question="What are your opening hours?",
        variants=["when are you open", "opening times", "are you open on sunday"],
        answer="Monday to Friday, 9 to 5.",
        automation="tests",
    )
    # Train the real matcher now, before any page opens: its first training once took 18 s on a
    # loaded machine, and the answer's wait below is for the bot, not for the training.
    assert matching.warm() != ""


def visitor_says(page: Any, text: str) -> None:
    page.locator(".hfw-input").fill(text)
    page.locator(".hfw-input").press("Enter")


def test_a_visitor_gets_an_answer_asks_for_a_person_and_sees_the_agents_reply(
    browser: Any, live_server: Any, knowledge_base: None
) -> None:
    UserFactory(email="ana@example.com", first_name="Ana", role=Role.AGENT, password="correct-horse-battery")
    visitor = browser.new_context().new_page()
    failures: list[str] = []
    visitor.on("response", lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    visitor.on("pageerror", lambda exc: failures.append(str(exc)))

    visitor.goto(f"{live_server.url}/inbox/widget-demo/")
    visitor.get_by_role("button", name="Chat with us").click()
    visitor_says(visitor, "How long does shipping take?")
    answer = visitor.locator(".hfw-bot").first
    answer.get_by_text("We ship within 2 working days").wait_for(timeout=20000)

    visitor.get_by_role("button", name="Talk to a person").click()
    visitor.locator(".hfw-bot", has_text="passing your conversation to a person").wait_for()
    conversation = Conversation.objects.get()
    assert conversation.status == Status.OPEN

    agent = browser.new_context().new_page()
    agent.goto(f"{live_server.url}/accounts/login/")
    agent.get_by_label("Email address").fill("ana@example.com")
    agent.get_by_label("Password").fill("correct-horse-battery")
    agent.get_by_role("button", name="Sign in").click()
    agent.wait_for_url(f"{live_server.url}/")
    agent.get_by_role("link", name="Inbox").click()
    agent.get_by_role("link", name="Website visitor").click()
    agent.get_by_label("Reply to the customer").fill("Hi, this is Ana. Your parcel left today.")
    agent.get_by_role("button", name="Send reply").click()

    visitor.locator(".hfw-agent", has_text="Your parcel left today.").wait_for(timeout=10000)
    assert visitor.locator(".hfw-agent .hfw-name").inner_text() == "Ana"

    visitor_says(visitor, "Thanks, <b>Ana</b>!")
    agent.locator("#messages", has_text="Thanks, <b>Ana</b>!").wait_for(timeout=10000)  # htmx polling
    assert agent.locator("#messages b").count() == 0
    assert [f for f in failures if not f.endswith("/favicon.ico")] == []
    visitor.context.close()  # stop the widget's polling before the test database goes away
    agent.context.close()


def test_nothing_a_visitor_writes_can_run_script(
    browser: Any, live_server: Any, knowledge_base: None
) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/inbox/widget-demo/")
    page.get_by_role("button", name="Chat with us").click()

    visitor_says(page, '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>')

    page.locator(".hfw-customer").wait_for()
    page.locator(".hfw-bot").first.wait_for(timeout=20000)
    assert page.evaluate("window.__xss") is None
    assert page.locator(".hfw-customer .hfw-text").inner_text().startswith("<img src=x")
    assert page.locator(".hfw img").count() == 0
    page.context.close()


def test_a_message_the_server_refuses_goes_back_into_the_box_with_the_reason(
    browser: Any, live_server: Any, knowledge_base: None, settings: Any
) -> None:
    from django.core.cache import cache

    settings.HEEDFUL_CHAT_RATE_LIMIT = 1  # the second message in a minute is refused (429)
    cache.clear()
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/inbox/widget-demo/")
    page.get_by_role("button", name="Chat with us").click()
    visitor_says(page, "How long does shipping take?")
    page.locator(".hfw-bot").first.wait_for(timeout=20000)

    second = "and do you ship to Norway, it is for my mother's birthday"
    visitor_says(page, second)

    page.locator(".hfw-status", has_text="Too many messages; please wait a moment.").wait_for()
    assert page.locator(".hfw-input").input_value() == second
    assert page.locator(".hfw-customer").count() == 1
    page.context.close()
