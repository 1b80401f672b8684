from __future__ import annotations

import pytest

from heedful.crm.models import Contact, TimelineEntry
from heedful.demo import load_demo
from heedful.governance.models import AuditEvent, DecisionRecord, ProposalStatus, ProposedAction
from heedful.people.models import Employee, Team

pytestmark = pytest.mark.django_db


def test_the_demo_is_a_small_shop_with_its_team() -> None:
    assert load_demo() == (
        "demo data loaded: 50 customers, 12 employees in 3 teams, 2 staff accounts, 40 automated decisions; "
        "13 FAQ entries, 7 products, 3 canned responses, 129 orders, 3 conversations; "
        "people demo loaded: Jakob Horn's leave approved at two levels by email link; onboarding of "
        "Greta Lind running (8 tasks, reminders daily); pulse survey answered by 11 employees, twice; "
        "9 workflows from the gallery (5 on)"
    )
    assert Contact.objects.count() == 50
    teams = sorted(Team.objects.values_list("name", flat=True))
    assert teams == ["Online & Care", "Shop & Packing", "Tea Lab"]
    assert Employee.objects.filter(team__name="Online & Care").count() == 4
    assert Employee.objects.filter(team__name="Shop & Packing").count() == 5  # with the new hire
    assert TimelineEntry.objects.filter(kind="order").count() >= 50
    assert TimelineEntry.objects.filter(kind="message").count() == 42  # 36 + the inbox demo's


def test_every_automated_action_in_the_demo_has_a_decision_record() -> None:
    load_demo()
    proposals = ProposedAction.objects.all()
    assert proposals.count() == 10
    assert not proposals.filter(decision__isnull=True).exists()
    assert proposals.filter(status=ProposalStatus.PENDING).count() == 6  # crm.add_tag asks first
    assert proposals.filter(status=ProposalStatus.APPROVED).count() == 4  # crm.add_note runs on its own
    for decision in DecisionRecord.objects.all():
        assert decision.factors, decision
        assert decision.subject_type == "contact"


def test_loading_the_demo_twice_changes_nothing() -> None:
    load_demo()
    counts = (Contact.objects.count(), DecisionRecord.objects.count(), AuditEvent.objects.count())
    assert load_demo() == "demo data already loaded"
    assert (Contact.objects.count(), DecisionRecord.objects.count(), AuditEvent.objects.count()) == counts
