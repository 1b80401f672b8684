"""Adding, changing and deleting FAQ entries on the knowledge pages (managers and the owner)."""

from __future__ import annotations

import pytest

from heedful.governance.models import AuditEvent
from heedful.knowledge.models import FaqEntry

pytestmark = pytest.mark.django_db


def test_a_manager_adds_an_entry_with_its_ways_of_asking(manager_client):
    response = manager_client.post(
        "/knowledge/new/",
        {
            "question": "Do you sell gift cards?",
            "variants": "gift voucher\r\n\r\n  can I buy a gift card  \r\n",
            "answer": "Yes, from 10 to 200 euros.",
            "article_url": "",
        },
        follow=True,
    )

    entry = FaqEntry.objects.get()
    assert (entry.question, entry.variants, entry.answer) == (
        "Do you sell gift cards?",
        "gift voucher\ncan I buy a gift card",
        "Yes, from 10 to 200 euros.",
    )
    assert [str(m) for m in response.context["messages"]] == ["Entry “Do you sell gift cards?” added."]
    assert AuditEvent.objects.filter(action="knowledge.faq.create").count() == 1


def test_a_manager_moves_a_shared_phrasing_to_one_entry(manager_client):
    payment = FaqEntry.objects.create(
        question="Which payment methods do you accept?", answer="Card.", variants="can I pay by invoice"
    )
    invoice = FaqEntry.objects.create(question="Can I pay by invoice?", answer="Yes, from 100 euros.")
    assert len(manager_client.get("/knowledge/").context["shared"]) == 1

    manager_client.post(
        f"/knowledge/{payment.pk}/edit/",
        {"question": payment.question, "variants": "", "answer": "Card.", "article_url": ""},
    )

    payment.refresh_from_db()
    assert payment.variants == ""
    assert manager_client.get("/knowledge/").context["shared"] == []
    event = AuditEvent.objects.get(action="knowledge.faq.update")
    assert event.changes == {"variants": ["can I pay by invoice", ""]}
    assert FaqEntry.objects.get(pk=invoice.pk).answer == "Yes, from 100 euros."


def test_the_page_splits_the_phrasings_into_words_once_per_version_of_the_knowledge_base(
    manager_client, monkeypatch
):
    import heedful.ml.text

    FaqEntry.objects.create(question="Which payment methods?", answer="Card.", variants="pay by invoice")
    invoice = FaqEntry.objects.create(question="Pay by invoice?", answer="Yes.")
    split: list[str] = []
    real = heedful.ml.text.phrase_key
    monkeypatch.setattr(heedful.ml.text, "phrase_key", lambda text: split.append(text) or real(text))

    first = manager_client.get("/knowledge/").context["shared"]
    second = manager_client.get("/knowledge/").context["shared"]
    invoice.variants = "invoice"
    invoice.save()
    third = manager_client.get("/knowledge/").context["shared"]

    assert [s.phrasing for s in first] == [s.phrasing for s in second] == ["pay by invoice"]
    assert [s.phrasing for s in third] == ["pay by invoice"]
    assert len(split) == 3 + 4  # three phrasings, then four after the edit; none for the second view


def test_an_entry_without_an_answer_is_not_saved_and_the_form_says_why(manager_client):
    entry = FaqEntry.objects.create(question="Returns?", answer="30 days.")

    response = manager_client.post(
        f"/knowledge/{entry.pk}/edit/", {"question": "Returns?", "variants": "", "answer": "  "}
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {"answer": ["This field is required."]}
    entry.refresh_from_db()
    assert entry.answer == "30 days."


def test_deleting_asks_first_then_deletes_and_the_audit_log_keeps_the_text(manager_client):
    entry = FaqEntry.objects.create(question="Returns?", answer="30 days.")

    asked = manager_client.get(f"/knowledge/{entry.pk}/delete/")
    assert FaqEntry.objects.filter(pk=entry.pk).exists()
    response = manager_client.post(f"/knowledge/{entry.pk}/delete/", follow=True)

    assert "Delete “Returns?”?" in asked.content.decode()
    assert not FaqEntry.objects.exists()
    assert [str(m) for m in response.context["messages"]] == [
        "Entry “Returns?” deleted; the audit log keeps what it said."
    ]
    assert AuditEvent.objects.get(action="knowledge.faq.delete").changes == {
        "question": ["Returns?", None],
        "answer": ["30 days.", None],
    }


def test_agents_read_entries_but_cannot_add_change_or_delete_them(agent_client):
    entry = FaqEntry.objects.create(question="Returns?", answer="30 days.")

    page = agent_client.get("/knowledge/").content.decode()

    assert f"/knowledge/{entry.pk}/edit/" not in page
    assert agent_client.get("/knowledge/new/").status_code == 403
    assert (
        agent_client.post(f"/knowledge/{entry.pk}/edit/", {"question": "x", "answer": "y"}).status_code == 403
    )
    assert agent_client.post(f"/knowledge/{entry.pk}/delete/").status_code == 403
    assert FaqEntry.objects.get().answer == "30 days."


def test_an_unknown_entry_is_a_404(manager_client):
    assert manager_client.get("/knowledge/999999/edit/").status_code == 404
