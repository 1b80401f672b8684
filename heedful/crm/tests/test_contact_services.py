from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from heedful.crm import services
from heedful.crm.models import Company, Contact, Tag, TimelineEntry
from heedful.crm.tests.factories import ContactFactory
from heedful.governance.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_create_contact_normalises_email_links_company_tags_audits_and_starts_the_timeline(agent):
    contact = services.create_contact(
        email="  Ana.Lopez@Example.COM ",
        first_name="Ana",
        last_name="Lopez",
        company_name="ACME Ltd",
        attributes={"newsletter": "yes"},
        tags=["vip", " vip ", "berlin"],
        user=agent,
    )

    assert contact.email == "ana.lopez@example.com"
    assert contact.company is not None
    assert contact.company.name == "ACME Ltd"
    assert contact.attributes == {"newsletter": "yes"}
    assert contact.source == "manual"
    assert sorted(contact.tags.values_list("name", flat=True)) == ["berlin", "vip"]
    event = AuditEvent.objects.get(action="contact.create")
    assert (event.actor_user, event.object_id, event.summary) == (
        agent,
        str(contact.pk),
        "Created contact Ana Lopez (source: manual)",
    )
    entry = TimelineEntry.objects.get(contact=contact)
    assert (entry.kind, entry.title, entry.actor_user, entry.source) == (
        "system",
        "Contact created",
        agent,
        "crm",
    )


def test_create_contact_reuses_a_company_and_tag_whatever_their_case():
    first = services.create_contact(email="a@example.com", company_name="ACME", tags=["VIP"], automation="t")
    second = services.create_contact(email="b@example.com", company_name="acme", tags=["vip"], automation="t")

    assert first.company == second.company
    assert Company.objects.count() == 1
    assert list(Tag.objects.values_list("name", flat=True)) == ["VIP"]


def test_create_contact_refuses_an_email_another_contact_has_in_any_case():
    ContactFactory(email="ana@example.com")

    with pytest.raises(ValidationError) as exc:
        services.create_contact(email="ANA@example.com", automation="t")

    assert exc.value.message_dict == {"email": ["Another contact already has the email ana@example.com."]}
    assert Contact.objects.count() == 1
    assert not AuditEvent.objects.exists()


def test_create_contact_refuses_an_invalid_email_and_too_long_names():
    with pytest.raises(ValidationError) as bad_email:
        services.create_contact(email="not-an-email", automation="t")
    with pytest.raises(ValidationError) as long_name:
        services.create_contact(first_name="x" * 101, automation="t")

    assert bad_email.value.message_dict == {"email": ["“not-an-email” is not a valid email address."]}
    assert long_name.value.message_dict == {"first_name": ["At most 100 characters (this has 101)."]}
    assert not Contact.objects.exists()


def test_contacts_without_email_may_be_many():
    services.create_contact(first_name="A", automation="t")
    services.create_contact(first_name="B", automation="t")

    assert Contact.objects.filter(email="").count() == 2


def test_update_contact_audits_each_changed_field_old_to_new(manager):
    contact = ContactFactory(
        email="ana@example.com", first_name="Ana", last_name="Lopez", phone="1", tags=["a"]
    )

    services.update_contact(
        contact,
        user=manager,
        first_name="Anna",
        phone="1",
        company_name="ACME",
        tags=["b"],
        email="ANNA@example.com",
    )

    contact.refresh_from_db()
    assert (contact.first_name, contact.email, contact.company.name) == ("Anna", "anna@example.com", "ACME")
    assert list(contact.tags.values_list("name", flat=True)) == ["b"]
    event = AuditEvent.objects.get(action="contact.update")
    assert event.changes == {
        "email": ["ana@example.com", "anna@example.com"],
        "first_name": ["Ana", "Anna"],
        "company": ["", "ACME"],
        "tags": [["a"], ["b"]],
    }
    assert event.actor_user == manager


def test_update_contact_that_changes_nothing_writes_nothing(manager):
    contact = ContactFactory(first_name="Ana")
    updated_at = contact.updated_at

    services.update_contact(contact, user=manager, first_name="Ana")

    contact.refresh_from_db()
    assert contact.updated_at == updated_at
    assert not AuditEvent.objects.exists()


def test_update_contact_refuses_unknown_fields_and_a_taken_email(manager):
    ContactFactory(email="taken@example.com")
    contact = ContactFactory(email="mine@example.com")

    with pytest.raises(ValidationError) as unknown:
        services.update_contact(contact, user=manager, created_at=None)
    with pytest.raises(ValidationError) as taken:
        services.update_contact(contact, user=manager, email="Taken@example.com")

    assert unknown.value.messages == ["These fields cannot be changed here: created_at"]
    assert taken.value.message_dict == {"email": ["Another contact already has the email taken@example.com."]}
    contact.refresh_from_db()
    assert contact.email == "mine@example.com"
    assert not AuditEvent.objects.exists()


def test_find_or_create_by_email_returns_the_existing_contact_unchanged():
    existing = ContactFactory(email="ana@example.com", first_name="Ana")

    contact, created = services.find_or_create_contact_by_email(
        email="ANA@example.com", first_name="Other", automation="inbox"
    )

    assert (contact, created, contact.first_name) == (existing, False, "Ana")
    assert Contact.objects.count() == 1


def test_find_or_create_by_email_creates_from_a_display_name():
    contact, created = services.find_or_create_contact_by_email(
        email="Ana.Lopez@example.com", name="Ana María Lopez", automation="inbox"
    )

    assert created is True
    assert (contact.email, contact.first_name, contact.last_name, contact.source) == (
        "ana.lopez@example.com",
        "Ana",
        "María Lopez",
        "inbox",
    )


def test_find_or_create_by_email_requires_an_email():
    with pytest.raises(ValidationError) as exc:
        services.find_or_create_contact_by_email(email=" ", automation="inbox")

    assert exc.value.message_dict == {"email": ["An email address is required."]}
    assert not Contact.objects.exists()


def test_tag_contact_is_true_once_then_false_and_untag_mirrors_it(agent):
    contact = ContactFactory()

    assert services.tag_contact(contact=contact, tag_name="vip", user=agent) is True
    assert services.tag_contact(contact=contact, tag_name="VIP", user=agent) is False
    assert services.untag_contact(contact=contact, tag_name="Vip", user=agent) is True
    assert services.untag_contact(contact=contact, tag_name="vip", user=agent) is False

    assert not contact.tags.exists()
    assert list(AuditEvent.objects.order_by("id").values_list("action", "summary")) == [
        ("contact.tag", "Tagged vip"),
        ("contact.untag", "Untagged vip"),
    ]
    assert list(TimelineEntry.objects.order_by("id").values_list("title", flat=True)) == [
        "Tagged “vip”",
        "Tag “vip” removed",
    ]


def test_add_note_writes_the_note_a_timeline_entry_and_an_audit_event(agent):
    contact = ContactFactory()

    note = services.add_note(contact=contact, user=agent, body="  Prefers email.  ")

    assert (note.body, note.author) == ("Prefers email.", agent)
    entry = TimelineEntry.objects.get(contact=contact)
    assert (entry.kind, entry.body, entry.ref_type, entry.ref_id) == (
        "note",
        "Prefers email.",
        "note",
        str(note.pk),
    )
    assert AuditEvent.objects.get().action == "contact.note"


def test_add_note_with_the_same_origin_notes_once():
    contact = ContactFactory()

    first = services.add_note(contact=contact, user=None, body="Hi", automation="rule", origin="proposal:1")
    second = services.add_note(contact=contact, user=None, body="Hi", automation="rule", origin="proposal:1")

    assert first == second
    assert contact.notes.count() == 1
    assert TimelineEntry.objects.count() == 1


def test_add_note_refuses_an_empty_body(agent):
    contact = ContactFactory()

    with pytest.raises(ValidationError):
        services.add_note(contact=contact, user=agent, body="   ")

    assert not contact.notes.exists()
    assert not TimelineEntry.objects.exists()
