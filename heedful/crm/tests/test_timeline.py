from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from heedful.crm import queries, services
from heedful.crm.models import Contact, TimelineEntry
from heedful.crm.tests.factories import ContactFactory, TimelineEntryFactory
from heedful.governance.models import AppendOnlyError

pytestmark = pytest.mark.django_db


def test_add_timeline_entry_records_the_touchpoint_and_its_actor():
    contact = ContactFactory()
    at = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

    entry = services.add_timeline_entry(
        contact=contact,
        kind="order",
        title="Order #10412",
        data={"total": 59.9},
        occurred_at=at,
        source="shop",
        automation="shop-sync",
        ref_type="order",
        ref_id=10412,
    )

    entry.refresh_from_db()
    assert (entry.kind, entry.title, entry.data, entry.occurred_at) == (
        "order",
        "Order #10412",
        {"total": 59.9},
        at,
    )
    assert (entry.source, entry.actor_automation, entry.ref_type, entry.ref_id) == (
        "shop",
        "shop-sync",
        "order",
        "10412",
    )
    assert entry.actor_label == "shop-sync"


def test_add_timeline_entry_refuses_an_unknown_kind_and_a_naive_time():
    contact = ContactFactory()

    with pytest.raises(ValidationError) as kind:
        services.add_timeline_entry(contact=contact, kind="gossip", title="x")
    with pytest.raises(ValidationError) as naive:
        services.add_timeline_entry(
            contact=contact,
            kind="order",
            title="x",
            occurred_at=datetime(2025, 1, 1),  # noqa: DTZ001 - the naive time is what is tested
        )

    assert kind.value.message_dict == {"kind": ["Unknown timeline kind 'gossip'."]}
    assert naive.value.message_dict == {"occurred_at": ["The time needs a time zone."]}
    assert not TimelineEntry.objects.exists()


def test_a_timeline_entry_cannot_be_changed_or_deleted():
    entry = TimelineEntryFactory(title="Original")

    entry.title = "Rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        TimelineEntry.objects.all().delete()

    assert list(TimelineEntry.objects.values_list("title", flat=True)) == ["Original"]


def test_erasing_a_contact_erases_its_timeline():
    entry = TimelineEntryFactory()
    TimelineEntryFactory()  # someone else's

    entry.contact.delete()

    assert not Contact.objects.filter(pk=entry.contact_id).exists()
    assert TimelineEntry.objects.count() == 1


def test_deleting_a_user_keeps_their_timeline_entries_without_the_link(agent):
    contact = ContactFactory()
    services.add_note(contact=contact, user=agent, body="Hello")

    agent.delete()

    assert list(TimelineEntry.objects.values_list("kind", "actor_user")) == [("note", None)]


def test_timeline_for_lists_newest_first():
    contact = ContactFactory()
    old = TimelineEntryFactory(contact=contact, occurred_at=datetime(2024, 1, 1, tzinfo=UTC))
    new = TimelineEntryFactory(contact=contact, occurred_at=datetime(2025, 1, 1, tzinfo=UTC))
    TimelineEntryFactory()

    assert list(queries.timeline_for(contact)) == [new, old]


def test_search_contacts_matches_every_word_in_any_field_and_filters_by_tag():
    ana = ContactFactory(first_name="Ana", last_name="Lopez", email="ana@acme.test", tags=["vip"])
    ContactFactory(first_name="Ana", last_name="Berg", email="ana@other.test")
    services.update_contact(ana, automation="t", company_name="ACME Ltd")

    assert list(queries.search_contacts("ana acme")) == [ana]
    assert list(queries.search_contacts("LOPEZ")) == [ana]
    assert list(queries.search_contacts("", tag="VIP")) == [ana]
    assert [c.last_name for c in queries.search_contacts("ana")] == ["Berg", "Lopez"]
