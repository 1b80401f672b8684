from __future__ import annotations

from datetime import UTC, datetime

import pytest

from heedful.inbox import canned
from heedful.inbox.demo import load_inbox_demo
from heedful.inbox.models import CannedResponse, Order, Product
from heedful.knowledge.models import FaqEntry

pytestmark = pytest.mark.django_db


def test_the_demo_loads_once(no_engine):
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)

    first = load_inbox_demo(now)
    second = load_inbox_demo(now)

    assert first == "8 FAQ entries, 7 products, 3 canned responses, 0 orders, 0 conversations"
    assert second == "inbox demo already loaded"
    assert (FaqEntry.objects.count(), Product.objects.count(), Order.objects.count()) == (8, 7, 0)
    assert [canned.token_errors(c.body) for c in CannedResponse.objects.all()] == [[], [], []]


def test_the_project_demo_customers_get_their_orders_and_the_faq_answers_the_demo_questions(
    settings, tmp_path
):
    from heedful.demo import load_demo
    from heedful.knowledge import matching

    settings.DATA_DIR = tmp_path
    matching.forget_trained()
    load_demo()
    load_inbox_demo(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))

    assert Order.objects.count() > 50
    questions = {
        "how long does delivery take?": "How long does shipping take?",
        "Do you ship to Austria?": "Do you ship abroad?",
        "can I pay with paypal": "Which payment methods do you accept?",
    }
    for text, question in questions.items():
        result = matching.match_question(text)
        assert result.entry_id == FaqEntry.objects.get(question=question).pk, text
