from __future__ import annotations

from datetime import UTC, datetime
from unittest.mock import patch

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from heedful.crm import services
from heedful.crm.models import Contact, ContactImport, ImportStatus, Note, TimelineEntry
from heedful.crm.tests.factories import ContactFactory, TimelineEntryFactory
from heedful.governance.models import AuditEvent

pytestmark = pytest.mark.django_db


def _list_queries(client, django_assert_num_queries, n: int) -> None:  # type: ignore[no-untyped-def]
    ContactFactory.create_batch(n, tags=["vip", "berlin"])
    # session, user, count, page, the page's tags, the tag filter's options
    with django_assert_num_queries(6):
        response = client.get(reverse("crm:contact-list"))
    assert response.status_code == 200


@pytest.mark.parametrize("n", [3, 30])
def test_the_contact_list_takes_the_same_queries_for_few_and_many_contacts(
    agent_client, django_assert_num_queries, n
):
    _list_queries(agent_client, django_assert_num_queries, n)


def test_the_contact_list_searches_and_filters_by_tag(agent_client):
    ContactFactory(first_name="Ana", last_name="Lopez", tags=["vip"])
    ContactFactory(first_name="Ana", last_name="Berg")

    response = agent_client.get(reverse("crm:contact-list"), {"q": "ana", "tag": "vip"})

    assert [c.last_name for c in response.context["page"]] == ["Lopez"]
    assert b'<option value="vip" selected>' in response.content


def test_an_htmx_search_renders_only_the_results(agent_client):
    ContactFactory(first_name="Ana", last_name="Lopez")

    response = agent_client.get(
        reverse("crm:contact-list"), {"q": "lopez"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="contact-results"
    )

    assert [t.name for t in response.templates] == ["crm/_contact_results.html"]
    assert b"Ana Lopez" in response.content


def test_the_contact_list_pages_by_fifty(agent_client):
    ContactFactory.create_batch(51)

    second = agent_client.get(reverse("crm:contact-list"), {"page": 2})

    assert len(second.context["page"].object_list) == 1
    assert b"Page 2 of 2" in second.content


def test_an_employee_may_not_see_contacts(employee_client):
    assert employee_client.get(reverse("crm:contact-list")).status_code == 403


def test_the_detail_shows_attributes_tags_and_the_timeline_with_decision_factors(agent_client):
    contact = ContactFactory(
        first_name="Ana", last_name="Lopez", attributes={"newsletter": "yes"}, tags=["vip"]
    )
    TimelineEntryFactory(
        contact=contact,
        kind="decision",
        title="Bot answered: opening hours",
        data={"factors": [{"text": "closest question matched at 91%", "weight": 0.91}]},
        source="inbox",
        actor_automation="faq-matcher",
        occurred_at=datetime(2025, 1, 2, tzinfo=UTC),
    )
    TimelineEntryFactory(contact=contact, title="Older message", occurred_at=datetime(2025, 1, 1, tzinfo=UTC))

    response = agent_client.get(reverse("crm:contact-detail", args=[contact.pk]))

    assert response.status_code == 200
    assert [e.title for e in response.context["timeline"]] == ["Bot answered: opening hours", "Older message"]
    html = response.content.decode()
    for text in (
        "newsletter",
        "vip",
        "closest question matched at 91%",
        "by faq-matcher",
        "from inbox",
        "Decision",
    ):
        assert text in html


def test_creating_a_contact_redirects_to_it(agent_client, agent):
    response = agent_client.post(
        reverse("crm:contact-create"),
        {"first_name": "Ana", "last_name": "Lopez", "email": "ana@example.com", "tags": "vip; new"},
    )

    contact = Contact.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("crm:contact-detail", args=[contact.pk])
    assert sorted(contact.tags.values_list("name", flat=True)) == ["new", "vip"]
    assert AuditEvent.objects.get(action="contact.create").actor_user == agent


def test_creating_a_contact_with_a_taken_email_shows_the_error_beside_the_field(agent_client):
    ContactFactory(email="ana@example.com")

    response = agent_client.post(reverse("crm:contact-create"), {"email": "Ana@example.com"})

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "email": ["Another contact already has the email ana@example.com."]
    }
    assert Contact.objects.count() == 1


def test_editing_a_contact_saves_through_the_service(agent_client):
    contact = ContactFactory(first_name="Ana", last_name="Lopez", email="ana@example.com", tags=["vip"])

    form = agent_client.get(reverse("crm:contact-edit", args=[contact.pk]))
    response = agent_client.post(
        reverse("crm:contact-edit", args=[contact.pk]),
        {"first_name": "Anna", "last_name": "Lopez", "email": "ana@example.com", "tags": "vip"},
    )

    assert form.context["form"].initial["tags"] == "vip"
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.first_name == "Anna"
    assert AuditEvent.objects.get(action="contact.update").changes == {"first_name": ["Ana", "Anna"]}


def test_adding_a_note_with_htmx_swaps_in_the_timeline(agent_client, agent):
    contact = ContactFactory()

    response = agent_client.post(
        reverse("crm:note-add", args=[contact.pk]),
        {"body": "Call back on Monday"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="contact-notes",
    )

    assert response.templates[0].name == "crm/_notes_and_timeline.html"
    assert Note.objects.get().author == agent
    assert b"Call back on Monday" in response.content


def test_adding_a_note_without_htmx_redirects_and_an_empty_note_is_refused(agent_client):
    contact = ContactFactory()

    ok = agent_client.post(reverse("crm:note-add", args=[contact.pk]), {"body": "Hi"})
    empty = agent_client.post(reverse("crm:note-add", args=[contact.pk]), {"body": ""})

    assert ok.status_code == empty.status_code == 302
    assert list(Note.objects.values_list("body", flat=True)) == ["Hi"]


def _upload(manager_client, commits, content: bytes, mode: str):  # type: ignore[no-untyped-def]
    """Upload as the page does, then run the background import the upload queued."""
    from heedful.crm.tasks import run_contact_import_task

    upload = SimpleUploadedFile("c.csv", content, content_type="text/csv")
    with patch.object(run_contact_import_task, "delay") as queued, commits(execute=True):
        response = manager_client.post(reverse("crm:contact-import"), {"file": upload, "mode": mode})
    job = ContactImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("crm:contact-import-status", args=[job.pk])
    waiting = manager_client.get(response["Location"]).content.decode()
    assert "Waiting for the background worker" in waiting
    assert 'hx-trigger="every 2s"' in waiting
    (job_id,), _kwargs = queued.call_args
    run_contact_import_task(job_id)
    return manager_client.get(response["Location"])


def test_the_import_page_shows_the_per_row_report_once_the_worker_has_imported_it(
    manager_client, django_capture_on_commit_callbacks
):
    response = _upload(
        manager_client, django_capture_on_commit_callbacks, b"email\na@example.com\nbad\n", "good"
    )

    report = response.context["report"]
    assert (report["created"], [(e["line"], e["column"]) for e in report["errors"]]) == (1, [(3, "email")])
    html = response.content.decode()
    assert "“bad” is not a valid email address." in html
    assert "hx-trigger" not in html  # finished: the page stops asking
    job = ContactImport.objects.get()
    assert (job.status, bytes(job.content)) == (ImportStatus.DONE, b"")  # the file is not kept


def test_the_import_page_in_all_or_nothing_mode_imports_nothing(
    manager_client, django_capture_on_commit_callbacks
):
    response = _upload(
        manager_client, django_capture_on_commit_callbacks, b"email\na@example.com\nbad\n", "all"
    )

    assert response.context["report"]["rejected"] is True
    assert b"Nothing was imported" in response.content
    assert not Contact.objects.exists()


def test_an_agent_may_neither_import_nor_export(agent_client):
    assert agent_client.get(reverse("crm:contact-import")).status_code == 403
    assert agent_client.get(reverse("crm:contact-export")).status_code == 403


def test_export_streams_the_searched_contacts_and_is_audited(manager_client, manager):
    ContactFactory(email="ana@example.com", first_name="Ana", last_name="Lopez")
    ContactFactory(email="ben@example.com", first_name="Ben", last_name="Okafor")

    response = manager_client.get(reverse("crm:contact-export"), {"q": "lopez"})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="contacts.csv"'
    assert b"".join(response.streaming_content).decode() == (
        "email,first_name,last_name,phone,company,postcode,tags\r\nana@example.com,Ana,Lopez,,,,\r\n"
    )
    event = AuditEvent.objects.get(action="contact.export")
    assert (event.actor_user, event.changes) == (manager, {"count": 1})


def test_timeline_entries_of_other_contacts_do_not_show(agent_client):
    contact = ContactFactory()
    services.add_note(contact=ContactFactory(), user=None, body="Someone else", automation="t")

    response = agent_client.get(reverse("crm:contact-detail", args=[contact.pk]))

    assert list(response.context["timeline"]) == []
    assert TimelineEntry.objects.count() == 1


def test_attributes_named_like_dict_methods_show_as_attributes(agent_client):
    # A template's ``attributes.items`` looks up the key "items" before the method, so an
    # imported column called "items" (or "keys", "values") once broke the page.
    contact = ContactFactory(attributes={"items": "3", "values": "loyal", "keys": "spare set"})

    response = agent_client.get(reverse("crm:contact-detail", args=[contact.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    for row in (
        "<dt>items</dt><dd>3</dd>",
        "<dt>keys</dt><dd>spare set</dd>",
        "<dt>values</dt><dd>loyal</dd>",
    ):
        assert row in html


def test_a_long_timeline_pages_back_to_the_first_entry(agent_client):
    from datetime import timedelta

    contact = ContactFactory()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    entries = [
        TimelineEntryFactory(contact=contact, title=f"Entry {i}", occurred_at=start + timedelta(days=i))
        for i in range(230)
    ]
    url = reverse("crm:contact-detail", args=[contact.pk])

    first = agent_client.get(url)
    last = agent_client.get(url, {"timeline_page": 3})

    assert [e.pk for e in first.context["timeline"]][:2] == [entries[229].pk, entries[228].pk]
    assert len(first.context["timeline"]) == 100
    assert [e.pk for e in last.context["timeline"]] == [e.pk for e in reversed(entries[:30])]
    html = first.content.decode()
    assert "Page 1 of 3 (230 entries)" in html
    assert 'href="?timeline_page=2#timeline-heading"' in html
