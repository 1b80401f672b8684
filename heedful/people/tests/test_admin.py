"""Leave policies configured in the admin; each change lands in the audit log."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from heedful.governance.models import AuditEvent
from heedful.people.models import LeaveType

pytestmark = pytest.mark.django_db


def _form(**changes: str) -> dict[str, str]:
    form = {
        "name": "Annual leave",
        "accrual_days": "25",
        "accrual_period": "year",
        "carry_over_cap": "5",
        "approval_steps": '["manager", "hr"]',
        "is_active": "on",
    }
    form.update(changes)
    return form


def test_a_leave_policy_change_in_the_admin_is_audited_and_bad_levels_are_refused(owner: Any) -> None:
    owner.is_staff = owner.is_superuser = True  # the admin is for whoever ran createsuperuser
    owner.save(update_fields=["is_staff", "is_superuser"])
    client = Client()
    client.force_login(owner)
    assert client.post("/admin/people/leavetype/add/", _form()).status_code == 302
    annual = LeaveType.objects.get()
    assert annual.approval_steps == ["manager", "hr"]
    refused = client.post(f"/admin/people/leavetype/{annual.pk}/change/", _form(approval_steps='["boss"]'))
    assert refused.status_code == 200
    assert "A list of levels, each one of: hr, manager" in refused.content.decode()
    assert (
        client.post(f"/admin/people/leavetype/{annual.pk}/change/", _form(carry_over_cap="3")).status_code
        == 302
    )
    events = AuditEvent.objects.filter(action__startswith="people.leavetype").order_by("pk")
    assert [(e.action, e.actor_user, e.summary) for e in events] == [
        ("people.leavetype.create", owner, "leave type “Annual leave” created in the admin"),
        ("people.leavetype.change", owner, "leave type “Annual leave” changed in the admin"),
    ]
    assert events.last().changes == {"carry_over_cap": ["5.00", "3"]}  # type: ignore[union-attr]
    assert client.post(f"/admin/people/leavetype/{annual.pk}/delete/", {"post": "yes"}).status_code == 302
    assert AuditEvent.objects.filter(action="people.leavetype.delete").count() == 1
