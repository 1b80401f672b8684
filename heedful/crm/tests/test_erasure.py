"""Erasing a contact from the page, the API and the admin: one service, managers and the owner only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from heedful.crm import services
from heedful.crm.models import Contact, Note, TimelineEntry
from heedful.crm.tests.factories import ContactFactory
from heedful.governance.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def rosa(agent: Any) -> Contact:
    contact = services.create_contact(email="rosa.diaz@customer.test", first_name="Rosa", tags=["vip"])
    services.add_note(contact=contact, user=agent, body="Prefers email.")
    return contact


def _left(contact_id: int) -> tuple[int, int, int]:
    return (
        Contact.objects.filter(pk=contact_id).count(),
        Note.objects.filter(contact_id=contact_id).count(),
        TimelineEntry.objects.filter(contact_id=contact_id).count(),
    )


def test_the_page_shows_what_goes_then_erases_on_confirmation(manager_client, rosa):
    other = ContactFactory()
    assert _left(rosa.pk) == (1, 1, 2)  # "Contact created" and the note

    page = manager_client.get(f"/contacts/{rosa.pk}/erase/")
    erased = manager_client.post(f"/contacts/{rosa.pk}/erase/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "<td>timeline</td><td>crm</td><td>2</td>" in html
    assert "<td>tag links</td><td>crm</td><td>1</td>" in html
    assert "<td>audit events redacted</td><td>governance</td><td>2</td>" in html  # created, the note
    assert (erased.status_code, erased["Location"]) == (302, "/contacts/")
    assert _left(rosa.pk) == (0, 0, 0)
    assert Contact.objects.get() == other
    assert AuditEvent.objects.filter(action="contact.erase", object_id=str(rosa.pk)).count() == 1


def test_agents_cannot_erase_and_nothing_changes(agent_client, rosa):
    assert agent_client.get(f"/contacts/{rosa.pk}/erase/").status_code == 403
    assert agent_client.post(f"/contacts/{rosa.pk}/erase/").status_code == 403
    assert "Erase…" not in agent_client.get(f"/contacts/{rosa.pk}/").content.decode()

    assert _left(rosa.pk) == (1, 1, 2)


def test_the_api_erases_with_delete_and_answers_the_counts(api_client_for, manager, agent, rosa):
    refused = api_client_for(agent).delete(f"/api/v1/contacts/{rosa.pk}/")
    assert refused.status_code == 403
    assert _left(rosa.pk) == (1, 1, 2)

    erased = api_client_for(manager).delete(f"/api/v1/contacts/{rosa.pk}/")

    assert erased.status_code == 200
    body = erased.json()
    assert (body["contact"], body["total"]) == (rosa.pk, sum(body["rows"].values()))
    assert {k: v for k, v in body["rows"].items() if k.startswith("crm.")} == {
        "crm.contacts": 1,
        "crm.decisions_anonymised": 0,
        "crm.notes": 1,
        "crm.proposals_anonymised": 0,
        "crm.proposals_withdrawn": 0,
        "crm.tag_links": 1,
        "crm.timeline": 2,
    }
    assert _left(rosa.pk) == (0, 0, 0)
    assert api_client_for(manager).delete(f"/api/v1/contacts/{rosa.pk}/").status_code == 404


def test_the_api_schema_documents_the_erasure(manager_client):
    schema = json.loads(manager_client.get("/api/openapi.json", {"format": "json"}).content)

    operation = schema["paths"]["/api/v1/contacts/{id}/"]["delete"]
    assert "Erase the contact" in operation["description"]
    assert "200" in operation["responses"]


def test_deleting_in_the_admin_erases_through_the_same_service(owner, rosa):
    owner.is_staff = owner.is_superuser = True  # the admin is for whoever ran createsuperuser
    owner.save(update_fields=["is_staff", "is_superuser"])
    client = Client()
    client.force_login(owner)

    confirm = client.get(f"/admin/crm/contact/{rosa.pk}/delete/")
    deleted = client.post(f"/admin/crm/contact/{rosa.pk}/delete/", {"post": "yes"})

    assert confirm.status_code == 200
    assert "Crm.timeline: 2" in confirm.content.decode()
    assert deleted.status_code == 302
    assert _left(rosa.pk) == (0, 0, 0)
    event = AuditEvent.objects.get(action="contact.erase")
    assert event.actor_user == owner


def test_the_admins_bulk_delete_erases_each_contact(owner, rosa):
    other = ContactFactory()
    owner.is_staff = owner.is_superuser = True
    owner.save(update_fields=["is_staff", "is_superuser"])
    client = Client()
    client.force_login(owner)
    chosen = {"action": "delete_selected", "_selected_action": [rosa.pk, other.pk]}

    confirm = client.post("/admin/crm/contact/", chosen)
    done = client.post("/admin/crm/contact/", {**chosen, "post": "yes"})

    assert "Crm.contacts: 2" in confirm.content.decode()
    assert done.status_code == 302
    assert not Contact.objects.exists()
    assert sorted(
        AuditEvent.objects.filter(action="contact.erase").values_list("object_id", flat=True)
    ) == sorted([str(rosa.pk), str(other.pk)])


def test_a_superuser_whose_role_may_not_erase_cannot_delete_contacts_in_the_admin(agent, rosa):
    agent.is_staff = agent.is_superuser = True  # the role decides, not the admin flags
    agent.save(update_fields=["is_staff", "is_superuser"])
    client = Client()
    client.force_login(agent)

    response = client.post(f"/admin/crm/contact/{rosa.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert _left(rosa.pk) == (1, 1, 2)
