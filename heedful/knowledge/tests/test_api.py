"""The knowledge API: read by everyone who works the inbox, written by owner and managers; every
write retrains the matcher, so the bot never answers from an entry that changed or went."""

from __future__ import annotations

import json

import pytest

from heedful.governance.models import AuditEvent
from heedful.knowledge import matching
from heedful.knowledge.models import FaqEntry
from heedful.knowledge.services import create_faq_entry
from heedful.knowledge.tasks import warm_faq_matcher_task

pytestmark = pytest.mark.django_db


def test_agents_read_entries_and_managers_add_them(api_client_for, agent, manager):
    create_faq_entry(question="How long does shipping take?", answer="1–3 days.", variants=["delivery time"])

    listed = api_client_for(agent).get("/api/v1/knowledge/faq-entries/").json()["results"]
    assert [(e["question"], e["variants"], e["answer"]) for e in listed] == [
        ("How long does shipping take?", ["delivery time"], "1–3 days.")
    ]
    new = {"question": "Do you ship abroad?", "answer": "To the EU.", "variants": ["to Austria?"]}
    assert api_client_for(agent).post("/api/v1/knowledge/faq-entries/", new, format="json").status_code == 403

    created = api_client_for(manager).post("/api/v1/knowledge/faq-entries/", new, format="json")

    assert created.status_code == 201
    assert created.json()["variants"] == ["to Austria?"]
    assert FaqEntry.objects.get(question="Do you ship abroad?").variants == "to Austria?"


def test_employees_read_nothing(api_client_for, employee):
    assert api_client_for(employee).get("/api/v1/knowledge/faq-entries/").status_code == 403


def _entry() -> FaqEntry:
    return create_faq_entry(
        question="How long does shipping take?", answer="1–3 days.", variants=["delivery time"]
    )


def test_an_agent_can_neither_change_nor_delete_an_entry(api_client_for, agent):
    entry = _entry()
    client = api_client_for(agent)
    url = f"/api/v1/knowledge/faq-entries/{entry.pk}/"

    assert client.patch(url, {"answer": "Never."}, format="json").status_code == 403
    assert client.delete(url).status_code == 403

    assert list(FaqEntry.objects.values_list("question", "answer")) == [
        ("How long does shipping take?", "1–3 days.")
    ]
    assert not AuditEvent.objects.filter(action__in=["knowledge.faq.update", "knowledge.faq.delete"]).exists()


def test_a_manager_changes_an_entry_and_the_matcher_retrains(
    api_client_for, manager, fake_engine, django_capture_on_commit_callbacks
):
    entry = _entry()
    url = f"/api/v1/knowledge/faq-entries/{entry.pk}/"
    assert matching.match_question("when does my parcel come").entry_id is None

    with django_capture_on_commit_callbacks() as callbacks:
        changed = api_client_for(manager).patch(
            url, {"variants": ["when does my parcel come"], "answer": "2 days."}, format="json"
        )

    assert changed.status_code == 200
    assert (changed.json()["answer"], changed.json()["variants"]) == ("2 days.", ["when does my parcel come"])
    assert callbacks == [warm_faq_matcher_task.delay]  # the matcher retrains in a worker, after commit
    assert AuditEvent.objects.get(action="knowledge.faq.update").changes == {
        "answer": ["1–3 days.", "2 days."],
        "variants": ["delivery time", "when does my parcel come"],
    }
    assert matching.match_question("when does my parcel come").entry_id == entry.pk
    assert matching.match_question("delivery time").entry_id is None
    assert api_client_for(manager).put(url, {}, format="json").status_code == 405


def test_a_manager_deletes_an_entry_and_the_matcher_no_longer_answers_it(
    api_client_for, manager, fake_engine
):
    entry = _entry()
    kept = create_faq_entry(question="Do you ship abroad?", answer="To the EU.")
    assert matching.match_question("How long does shipping take?").entry_id == entry.pk

    deleted = api_client_for(manager).delete(f"/api/v1/knowledge/faq-entries/{entry.pk}/")

    assert deleted.status_code == 204
    assert list(FaqEntry.objects.all()) == [kept]
    assert matching.match_question("How long does shipping take?").entry_id is None
    assert AuditEvent.objects.get(action="knowledge.faq.delete").changes == {
        "question": ["How long does shipping take?", None],
        "answer": ["1–3 days.", None],
    }


def test_the_schema_offers_patch_and_delete_but_not_put(owner_client):
    schema = json.loads(owner_client.get("/api/openapi.json", {"format": "json"}).content)

    item = schema["paths"]["/api/v1/knowledge/faq-entries/{id}/"]
    assert sorted(item) == ["delete", "get", "patch"]
