"""The audit log: append-only, owner only, filterable and paginated."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from heedful.accounts.models import User
from heedful.accounts.tests.factories import UserFactory
from heedful.governance.models import AppendOnlyError, AuditEvent
from heedful.governance.services import record_audit

pytestmark = pytest.mark.django_db

PAGE = "/trust/audit/"


def _event(action: str, at: datetime, **kwargs: Any) -> AuditEvent:
    event = record_audit(action=action, **kwargs)
    # Backdating goes through the base manager: the default one refuses updates on purpose.
    AuditEvent._base_manager.filter(pk=event.pk).update(at=at)
    return AuditEvent.objects.get(pk=event.pk)


def test_an_event_cannot_be_changed_or_deleted(owner: User) -> None:
    event = record_audit(action="user.login", user=owner, summary="Signed in")

    event.summary = "Never happened"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(summary="Never happened")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()

    assert list(AuditEvent.objects.values_list("summary", flat=True)) == ["Signed in"]


def test_deleting_a_user_keeps_their_events_and_their_name() -> None:
    leaver = UserFactory(email="lea@example.com")
    record_audit(action="user.login", user=leaver)

    leaver.delete()

    event = AuditEvent.objects.get()
    assert (event.actor_user, event.actor_label) == (None, "lea@example.com")


@pytest.mark.parametrize("client_name", ["manager_client", "agent_client", "employee_client"])
def test_only_the_owner_reads_the_log(client_name: str, request: pytest.FixtureRequest) -> None:
    client: Client = request.getfixturevalue(client_name)

    assert client.get(PAGE).status_code == 403


def test_the_owner_filters_by_actor_action_object_and_days(
    owner_client: Client, owner: User, settings: Any
) -> None:
    settings.BUSINESS_TIME_ZONE = "America/New_York"
    record_audit(action="user.login", user=owner)  # today, excluded by the day filter
    _event(
        "action.approve",
        datetime(2026, 3, 2, 3, 0, tzinfo=UTC),
        user=owner,
        object_type="proposedaction",
        object_id="5",
    )
    wanted = _event(
        "action.reject",
        datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
        user=owner,
        object_type="proposedaction",
        object_id="5",
    )
    _event(
        "action.reject",
        datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
        user=owner,
        object_type="proposedaction",
        object_id="6",
    )
    _event(
        "action.execute",
        datetime(2026, 3, 2, 16, 0, tzinfo=UTC),
        automation="rule:vip",
        object_type="proposedaction",
        object_id="5",
    )

    response = owner_client.get(
        PAGE,
        {
            "actor": "OLIVIA",
            "action": "action.",
            "object_type": "proposedaction",
            "object_id": "5",
            "since": "2026-03-02",
            "until": "2026-03-02",
        },
    )

    # 03:00 UTC on 2 March is still 1 March in New York: days are the business's days.
    assert [e.pk for e in response.context["page"]] == [wanted.pk]
    html = response.content.decode()
    assert '<time datetime="2026-03-02T10:00:00-05:00">' in html
    assert "<code>action.reject</code>" in html


def test_a_backwards_date_range_is_explained_not_guessed(owner_client: Client, owner: User) -> None:
    record_audit(action="user.login", user=owner)

    response = owner_client.get(PAGE, {"since": "2026-03-05", "until": "2026-03-01"})

    assert list(response.context["page"]) == []
    assert "The first day comes after the last day." in response.content.decode()


def test_the_log_is_paginated_at_fifty_newest_first(owner_client: Client, owner: User) -> None:
    for i in range(50):
        _event("user.login", datetime(2026, 3, 1, 8, i, tzinfo=UTC), user=owner, summary=f"login {i}")

    first = owner_client.get(PAGE)  # signing the client in added the 51st, newest event
    second = owner_client.get(PAGE, {"page": 2})

    assert [e.summary for e in first.context["page"]][:2] == ["Signed in", "login 49"]
    assert len(first.context["page"]) == 50
    assert [e.summary for e in second.context["page"]] == ["login 0"]
    assert 'href="?page=2"' in first.content.decode()


def test_a_filtered_page_link_keeps_the_filter(owner_client: Client, owner: User) -> None:
    for i in range(51):
        _event("user.login", datetime(2026, 3, 1, 8, i, tzinfo=UTC), user=owner)

    html = owner_client.get(PAGE, {"action": "user."}).content.decode()

    assert 'href="?action=user.&amp;page=2" hx-get="?action=user.&amp;page=2"' in html


def test_an_htmx_page_turn_returns_the_content_without_the_layout(owner_client: Client, owner: User) -> None:
    record_audit(action="user.login", user=owner)

    html = owner_client.get(PAGE, HTTP_HX_REQUEST="true").content.decode()

    assert "<html" not in html
    assert "<h1>Audit log</h1>" in html


def test_the_log_page_costs_the_same_queries_for_many_events(
    owner_client: Client, owner: User, django_assert_num_queries: Any
) -> None:
    for _ in range(30):
        record_audit(action="user.login", user=owner)
    owner_client.get(PAGE)

    # session, user, count, one page of events.
    with django_assert_num_queries(4):
        response = owner_client.get(PAGE)

    # The 30 and the client's sign-in; reading the log added nothing.
    assert len(response.context["page"]) == 31
