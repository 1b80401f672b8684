"""HR keeps onboarding templates and their tasks on a page of its own, every change audited."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from heedful.governance.models import AuditEvent
from heedful.people import services
from heedful.people.models import OnboardingTemplate

pytestmark = pytest.mark.django_db


def _form(team: Any, tasks: list[dict[str, str]], initial: int = 0, **fields: str) -> dict[str, str]:
    data = {
        "name": "Packing starter",
        "team": str(team.pk),
        "job_title": "",
        "tasks-TOTAL_FORMS": str(len(tasks)),
        "tasks-INITIAL_FORMS": str(initial),
        "tasks-MIN_NUM_FORMS": "0",
        "tasks-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for i, task in enumerate(tasks):
        data.update({f"tasks-{i}-{key}": value for key, value in task.items()})
    return data


def test_hr_writes_a_template_whose_tasks_a_new_hire_gets_and_each_change_is_audited(
    hr: Any, hr_client: Any, manager: Any, packing: Any, eli_employee: Any
) -> None:
    tasks = [
        {"title": "Safety shoes", "owner": "manager", "due_offset_days": "-2"},
        {"title": "Read the handbook", "owner": "new_hire", "due_offset_days": "3"},
    ]
    assert hr_client.post("/people/settings/onboarding/new/", _form(packing, tasks))["Location"] == (
        "/people/settings/onboarding/"
    )
    template = OnboardingTemplate.objects.get()
    shoes, handbook = template.tasks.order_by("due_offset_days")
    edited = [
        {"id": str(shoes.pk), "title": "Safety shoes", "owner": "manager", "due_offset_days": "-3"},
        {
            "id": str(handbook.pk),
            "title": "Read the handbook",
            "owner": "new_hire",
            "due_offset_days": "3",
            "DELETE": "on",
        },
    ]
    url = f"/people/settings/onboarding/{template.pk}/"
    assert (
        hr_client.post(url, _form(packing, edited, initial=2))["Location"] == "/people/settings/onboarding/"
    )
    assert hr_client.post(url, _form(packing, edited[:1], initial=1)).status_code == 302  # no change: no row
    events = AuditEvent.objects.filter(action__startswith="people.onboardingtemplate").order_by("pk")
    assert [(e.action, e.summary, e.changes) for e in events] == [
        (
            "people.onboardingtemplate.create",
            "onboarding template “Packing starter” created on the onboarding settings page",
            {
                "name": [None, "Packing starter"],
                "team": [None, "Packing"],
                "job_title": [None, ""],
                "tasks": [[], ["Safety shoes (manager, day -2)", "Read the handbook (new_hire, day +3)"]],
            },
        ),
        (
            "people.onboardingtemplate.change",
            "onboarding template “Packing starter” changed on the onboarding settings page",
            {
                "tasks": [
                    ["Safety shoes (manager, day -2)", "Read the handbook (new_hire, day +3)"],
                    ["Safety shoes (manager, day -3)"],
                ]
            },
        ),
    ]
    page = hr_client.get(url).content.decode()
    assert page.count('name="tasks-0-id"') == 1
    assert "<legend>Safety shoes</legend>" in page
    onboarding = services.launch_onboarding(employee=eli_employee, user=hr)
    assert list(onboarding.tasks.values_list("title", "due_date", "assignee")) == [
        ("Safety shoes", date(2025, 12, 29), manager.pk)
    ]


def test_a_task_due_absurdly_early_is_refused_and_only_hr_gets_in(
    hr_client: Any, manager_client: Any, packing: Any
) -> None:
    tasks = [{"title": "Laptop", "owner": "it", "due_offset_days": "-400"}]
    refused = hr_client.post("/people/settings/onboarding/new/", _form(packing, tasks))
    assert refused.status_code == 200
    assert refused.context["tasks"].errors == [
        {"due_offset_days": ["Between 90 days before the start and a year after it."]}
    ]
    assert manager_client.get("/people/settings/onboarding/").status_code == 403
    assert manager_client.post("/people/settings/onboarding/new/", _form(packing, [])).status_code == 403
    assert OnboardingTemplate.objects.count() == 0
    assert 'href="/people/settings/onboarding/"' in hr_client.get("/people/onboarding/").content.decode()
