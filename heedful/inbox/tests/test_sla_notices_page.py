"""The page of overdue conversations: mine for everyone, the whole team's for managers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from heedful.inbox import sla
from heedful.inbox.models import SlaNotice, Status
from heedful.inbox.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db


def _overdue(**fields):  # type: ignore[no-untyped-def]
    due = timezone.now() - timedelta(hours=2, minutes=10, seconds=20)
    return ConversationFactory(status=Status.OPEN, first_response_due_at=due, **fields)


def test_the_inbox_links_to_the_page(agent_client):
    html = agent_client.get("/inbox/").content.decode()

    assert '<a href="/inbox/notices/">Overdue conversations</a>' in html


def test_an_agent_sees_their_notices_with_a_link_and_dismisses_one_there(agent_client, agent, manager):
    mine = _overdue(assignee=agent, customer_name="Anna Berg")
    _overdue(customer_name="Carl Unassigned")  # told to the manager, not to Ana
    resolved = _overdue(assignee=agent, customer_name="Done Already")
    sla.detect_sla_breaches()
    resolved.status = Status.RESOLVED
    resolved.save()

    html = agent_client.get("/inbox/notices/").content.decode()

    assert html.count('class="sla-notice"') == 1
    assert f'<a href="/inbox/{mine.pk}/">#{mine.pk} Anna Berg</a>' in html
    assert "first reply overdue by 2 h 10 min" in html
    assert "Carl Unassigned" not in html
    assert "Done Already" not in html
    assert "Everyone&#x27;s" not in html  # no team view for agents

    notice = SlaNotice.objects.get(user=agent, breach__conversation=mine)
    dismissed = agent_client.post(f"/inbox/notices/{notice.pk}/dismiss/", {"back": "notices"})

    assert (dismissed.status_code, dismissed["Location"]) == (302, "/inbox/notices/")
    html = agent_client.get("/inbox/notices/").content.decode()
    assert html.count('class="sla-notice"') == 0
    assert "Nothing overdue for you." in html


def test_an_agent_asking_for_everyones_gets_their_own(agent_client, agent, manager):
    _overdue(customer_name="Carl Unassigned")
    sla.detect_sla_breaches()

    html = agent_client.get("/inbox/notices/?who=all").content.decode()

    assert "Carl Unassigned" not in html
    assert 'class="sla-breach"' not in html


def test_a_manager_sees_every_open_breach_and_who_was_told(manager_client, agent, manager):
    assigned = _overdue(assignee=agent, customer_name="Anna Berg")
    unassigned = _overdue(customer_email="carl@example.com")
    sla.detect_sla_breaches()
    SlaNotice.objects.filter(user=agent).update(dismissed_at=timezone.now())

    html = manager_client.get("/inbox/notices/?who=all").content.decode()

    assert html.count('class="sla-breach"') == 2
    assert f'<a href="/inbox/{assigned.pk}/">#{assigned.pk} Anna Berg</a>' in html
    assert f'<a href="/inbox/{unassigned.pk}/">#{unassigned.pk} carl@example.com</a>' in html
    assert "ana@example.com (dismissed)" in html
    assert html.count('value="notices"') == 1  # only the manager's own notice can be dismissed here

    mine = SlaNotice.objects.get(user=manager)
    back = manager_client.post(f"/inbox/notices/{mine.pk}/dismiss/", {"back": "notices", "who": "all"})

    assert back["Location"] == "/inbox/notices/?who=all"
    mine.refresh_from_db()
    assert mine.dismissed_at is not None
