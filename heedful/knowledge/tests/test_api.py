"""The knowledge API: read by everyone who works the inbox, written by owner and managers."""

from __future__ import annotations

import pytest

from heedful.knowledge.models import FaqEntry
from heedful.knowledge.services import create_faq_entry

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
