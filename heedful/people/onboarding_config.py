"""Writes for onboarding templates, as HR keeps them on the onboarding settings page.

A template and its tasks are saved together and audited as one change, with the task list
before and after, so the log says what a new hire's checklist will look like. Checklists
already launched are copies and do not change.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.forms import BaseInlineFormSet, ModelForm

from heedful.accounts.models import User
from heedful.accounts.roles import Perm
from heedful.governance.services import record_audit
from heedful.people.models import OnboardingTemplate


class ConfigError(Exception):
    """Not allowed; the message is shown as it is."""


def _tasks(template: OnboardingTemplate | None) -> list[str]:
    if template is None or template.pk is None:
        return []
    return [
        f"{t.title} ({t.owner}, day {t.due_offset_days:+d})"
        for t in template.tasks.order_by("due_offset_days", "pk")
    ]


def _describe(template: OnboardingTemplate) -> dict[str, str]:
    return {"name": template.name, "team": str(template.team or ""), "job_title": template.job_title}


@transaction.atomic
def save_onboarding_template(
    *,
    user: User,
    form: ModelForm,
    tasks: BaseInlineFormSet[Any, Any, Any],
) -> OnboardingTemplate:
    """Save a validated template form and its task formset; audit old → new."""
    if not user.can(Perm.MANAGE_PEOPLE):
        raise ConfigError("Only HR and the owner can change onboarding templates.")
    existing = form.instance.pk
    before = OnboardingTemplate.objects.filter(pk=existing).first() if existing else None
    was = (_describe(before), _tasks(before)) if before else ({}, [])
    template = form.save()
    tasks.instance = template
    tasks.save()
    now = (_describe(template), _tasks(template))
    changes: dict[str, list[Any]] = {
        key: [was[0].get(key), value] for key, value in now[0].items() if was[0].get(key) != value
    }
    if was[1] != now[1]:
        changes["tasks"] = [was[1], now[1]]
    if before is not None and not changes:
        return template
    record_audit(
        action=f"people.onboardingtemplate.{'change' if before else 'create'}",
        user=user,
        obj=template,
        summary=f"onboarding template “{template}” {'changed' if before else 'created'} "
        "on the onboarding settings page",
        changes=changes,
    )
    return template
