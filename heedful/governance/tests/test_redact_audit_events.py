"""Redacting the audit events about erased objects: the one change the append-only log accepts."""

from __future__ import annotations

from typing import Any

import pytest

from heedful.accounts.models import User
from heedful.governance.models import AppendOnlyError, AuditEvent
from heedful.governance.services import record_audit, redact_audit_events

pytestmark = pytest.mark.django_db


def _as_dicts() -> list[dict[str, Any]]:
    return [dict(row) for row in AuditEvent.objects.order_by("pk").values()]


@pytest.fixture
def events(agent: User) -> dict[str, AuditEvent]:
    return {
        "changed": record_audit(
            action="contact.update",
            user=agent,
            object_type="contact",
            object_id="7",
            object_repr="Rosa Diaz",
            summary="Changed email of Rosa Diaz",
            changes={"email": ["rosa@a.test", "rosa@b.test"], "tags": {"added": ["vip"]}},
            ip_address="192.0.2.1",
        ),
        "quiet": record_audit(
            action="inbox.take_over",
            automation="inbox",
            object_type="contact",
            object_id="7",
            object_repr="x",
        ),
        # Another contact, and another kind of object with the same id: both untouched.
        "ben": record_audit(
            action="contact.note", user=agent, object_type="contact", object_id="8", summary="Ben called"
        ),
        "same_id": record_audit(
            action="workflow.edit", user=agent, object_type="workflow", object_id="7", summary="v1 → v2"
        ),
    }


def test_it_replaces_the_name_summary_and_changed_values_and_keeps_who_what_and_when(
    events: dict[str, AuditEvent], agent: User
) -> None:
    before = {row["id"]: row for row in _as_dicts()}

    assert redact_audit_events(object_type="contact", object_ids=[7, "7"]) == 2

    after = {row["id"]: row for row in _as_dicts()}
    changed, quiet = events["changed"], events["quiet"]
    assert after[changed.pk] == {
        **before[changed.pk],
        "object_repr": "contact #7 (erased)",
        "summary": "(erased)",
        "changes": {"email": "(erased)", "tags": "(erased)"},
    }
    assert (after[changed.pk]["actor_user_id"], after[changed.pk]["ip_address"]) == (agent.pk, "192.0.2.1")
    # Nothing was said, so nothing is claimed erased.
    assert after[quiet.pk] == {**before[quiet.pk], "object_repr": "contact #7 (erased)"}
    for name in ("ben", "same_id"):
        assert after[events[name].pk] == before[events[name].pk]


def test_a_dry_run_counts_and_changes_nothing(events: dict[str, AuditEvent]) -> None:
    before = _as_dicts()

    counted = redact_audit_events(object_type="contact", object_ids=["7", "8", "99"], dry_run=True)

    assert counted == 3
    assert _as_dicts() == before


def test_no_ids_or_no_type_redacts_nothing(events: dict[str, AuditEvent]) -> None:
    before = _as_dicts()

    assert redact_audit_events(object_type="contact", object_ids=[]) == 0
    assert redact_audit_events(object_type="", object_ids=["7"]) == 0
    assert _as_dicts() == before


def test_redacting_twice_leaves_the_same_rows(events: dict[str, AuditEvent]) -> None:
    redact_audit_events(object_type="contact", object_ids=["7"])
    once = _as_dicts()

    assert redact_audit_events(object_type="contact", object_ids=["7"]) == 2
    assert _as_dicts() == once


def test_the_log_still_refuses_every_other_change_after_a_redaction(events: dict[str, AuditEvent]) -> None:
    redact_audit_events(object_type="contact", object_ids=["7"])
    redacted = _as_dicts()
    event = AuditEvent.objects.get(pk=events["changed"].pk)

    event.summary = "Changed email of Rosa Diaz"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.update(summary="Never happened")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(object_repr="Rosa Diaz")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    # The private path is not on the manager: only a queryset the service built reaches it.
    assert not hasattr(AuditEvent.objects, "_redact_for_erasure")
    assert _as_dicts() == redacted
