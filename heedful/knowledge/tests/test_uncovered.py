"""Questions people mark as not covered: the bot trains on them as questions to hand off."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from heedful.governance.models import AuditEvent
from heedful.inbox.demo import FAQ
from heedful.knowledge import matching, services
from heedful.knowledge.models import FaqEntry, UncoveredQuestion
from heedful.knowledge.tests.fixtures import create_topic_entries
from heedful.ml.encoders import minilm_available

pytestmark = pytest.mark.django_db


def _demo_faq() -> dict[str, FaqEntry]:
    for question, variants, answer in FAQ:
        services.create_faq_entry(question=question, variants=variants, answer=answer, automation="tests")
    return {e.question: e for e in FaqEntry.objects.all()}


@pytest.mark.skipif(not minilm_available(), reason="MiniLM not built (run `heedful ml build`)")
def test_a_near_miss_marked_not_covered_is_handed_off_with_its_paraphrases(
    settings: Any, tmp_path: Any, owner: Any
) -> None:
    # The demo tea shop: "do you sell coffee too?" looks like its wholesale entry to the matcher
    # (no threshold separates it from questions it should answer, session 20).
    settings.DATA_DIR = tmp_path
    settings.HEEDFUL_FAQ_ENCODER = "hybrid"
    matching.forget_trained()
    entries = _demo_faq()
    wholesale, returns = entries["Do you sell wholesale?"], entries["How do I return something?"]
    assert matching.match_question("do you sell coffee too?").entry_id == wholesale.pk

    services.mark_not_covered(text="do you sell coffee too?", user=owner, wrongly_answered_with=wholesale.pk)
    matching.warm()

    coffee = matching.match_question("do you sell coffee too?")
    assert (coffee.entry_id, coffee.unavailable_reason) == (None, "")
    assert matching.match_question("can I buy coffee from you?").entry_id is None
    # What the knowledge base covers is answered as before.
    assert matching.match_question("do you sell tea wholesale to cafes?").entry_id == wholesale.pk
    assert matching.match_question("how can I send back the teapot I ordered?").entry_id == returns.pk


def test_the_list_is_part_of_the_knowledge_base_version(settings: Any, tmp_path: Any, owner: Any) -> None:
    settings.DATA_DIR = tmp_path
    settings.HEEDFUL_FAQ_ENCODER = "tfidf"
    matching.forget_trained()
    create_topic_entries()
    before = matching.warm()

    question = services.mark_not_covered(text="  Do you   sell gift vouchers?! ", user=owner)
    marked = matching.warm()
    assert (question.text, question.key) == ("Do you sell gift vouchers?!", "do you sell gift vouchers")
    assert marked != before
    assert matching.match_question("Do you sell gift vouchers?").entry_id is None

    services.forget_not_covered(question=question, user=owner)
    assert matching.warm() == before  # the same knowledge base again: its kept matcher is loaded
    assert UncoveredQuestion.objects.count() == 0


def test_marking_is_audited_and_the_same_words_twice_are_one_question(owner: Any) -> None:
    create_topic_entries()
    entry = FaqEntry.objects.order_by("pk").first()
    assert entry is not None

    first = services.mark_not_covered(text="Are you hiring?", user=owner, wrongly_answered_with=entry.pk)
    again = services.mark_not_covered(text="are you HIRING", user=owner)
    assert (again.pk, again.text) == (first.pk, "Are you hiring?")
    services.forget_not_covered(question=first, user=owner)

    assert list(
        AuditEvent.objects.filter(action__startswith="knowledge.uncovered")
        .order_by("pk")
        .values_list("action", "summary")
    ) == [
        (
            "knowledge.uncovered.add",
            f"Not covered: Are you hiring? (the bot had answered with “{entry.question}”)",
        ),
        ("knowledge.uncovered.remove", ""),
    ]


def test_an_entrys_own_words_or_nothing_are_refused(owner: Any) -> None:
    create_topic_entries()
    entry = FaqEntry.objects.order_by("pk").first()
    assert entry is not None

    with pytest.raises(ValidationError) as own_words:
        services.mark_not_covered(text=entry.question.upper(), user=owner)
    with pytest.raises(ValidationError) as empty:
        services.mark_not_covered(text=" ?! \x00", user=owner)

    assert own_words.value.messages == [
        f"“{entry.question}” is asked in these words; change or deactivate that entry instead."
    ]
    assert empty.value.messages == ["Write the question the knowledge base does not answer."]
    assert UncoveredQuestion.objects.count() == 0


def test_a_long_question_is_kept_shortened(owner: Any) -> None:
    question = services.mark_not_covered(text="word " * 600, user=owner)
    assert (len(question.text), question.text[:9]) == (services.UNCOVERED_MAX_CHARS, "word word")


def test_a_manager_adds_and_removes_one_on_the_knowledge_page(
    manager_client: Any, agent_client: Any, settings: Any, tmp_path: Any
) -> None:
    settings.DATA_DIR = tmp_path
    settings.HEEDFUL_FAQ_ENCODER = "tfidf"
    matching.forget_trained()
    create_topic_entries()

    added = manager_client.post("/knowledge/not-covered/", {"text": "Are you hiring?"}, follow=True)
    matching.warm()
    learnt = manager_client.get("/knowledge/").content.decode()
    refused = manager_client.post(
        "/knowledge/not-covered/", {"text": "What about opening hours?"}, follow=True
    )
    question = UncoveredQuestion.objects.get()
    agent_page = agent_client.get("/knowledge/").content.decode()
    agent_tries = agent_client.post(f"/knowledge/not-covered/{question.pk}/remove/")
    removed = manager_client.post(f"/knowledge/not-covered/{question.pk}/remove/", follow=True)

    assert added.redirect_chain == [("/knowledge/#uncovered", 302)]
    assert [str(m) for m in added.context["messages"]] == [
        "The bot hands “Are you hiring?” and questions like it to a person once it has relearnt."
    ]
    assert "<td>Are you hiring?</td>" in added.content.decode()
    assert (
        "It also learnt from 1 question marked as not covered (below), and hands questions like it to a "
        "person; it was not checked on it."
    ) in learnt
    assert [str(m) for m in refused.context["messages"]] == [
        "“What about opening hours?” is asked in these words; change or deactivate that entry instead."
    ]
    assert "<td>Are you hiring?</td>" in agent_page
    assert 'id="uncovered-form"' not in agent_page
    assert agent_tries.status_code == 403
    assert [str(m) for m in removed.context["messages"]] == [
        "“Are you hiring?” is off the list; the bot may answer it again."
    ]
    assert UncoveredQuestion.objects.count() == 0


def test_the_api_lists_adds_and_removes_them(api_client_for: Any, agent: Any, manager: Any) -> None:
    create_topic_entries()
    entry = FaqEntry.objects.order_by("pk").first()
    assert entry is not None
    url = "/api/v1/knowledge/not-covered/"
    body = {"text": "Are you hiring?", "wrongly_answered_with": entry.pk}

    assert api_client_for(agent).post(url, body, format="json").status_code == 403
    created = api_client_for(manager).post(url, body, format="json")
    again = api_client_for(manager).post(url, {"text": "are you hiring"}, format="json")
    refused = api_client_for(manager).post(url, {"text": entry.question}, format="json")
    listed = api_client_for(agent).get(url).json()["results"]
    question_id = created.json()["id"]
    assert api_client_for(agent).delete(f"{url}{question_id}/").status_code == 403
    removed = api_client_for(manager).delete(f"{url}{question_id}/")

    assert created.status_code == 201
    assert (again.status_code, again.json()["id"]) == (200, question_id)
    assert (refused.status_code, refused.json()) == (
        400,
        {"text": [f"“{entry.question}” is asked in these words; change or deactivate that entry instead."]},
    )
    assert [(q["text"], q["added_by"], q["wrongly_answered_with"]) for q in listed] == [
        ("Are you hiring?", manager.email, entry.pk)
    ]
    assert removed.status_code == 204
    assert UncoveredQuestion.objects.count() == 0
