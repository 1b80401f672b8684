"""People configuration in the admin (the owner's): leave types and their policies, public
holidays, onboarding templates. Every save and delete is written to the audit log, as a change
made in the app would be; employees and leave requests are changed in the app, where the
services check and notify."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from heedful.governance.services import record_audit
from heedful.people.leave_config import LEAVE_TYPE_FIELDS
from heedful.people.models import (
    ApprovalStep,
    Employee,
    LeaveType,
    OnboardingTaskTemplate,
    OnboardingTemplate,
    PublicHoliday,
    Team,
)


class AuditedAdmin(admin.ModelAdmin):
    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        after = {field: str(form.cleaned_data.get(field)) for field in form.changed_data}
        before = {field: str(form.initial.get(field)) for field in form.changed_data} if change else {}
        super().save_model(request, obj, form, change)
        record_audit(
            action=f"people.{obj._meta.model_name}.{'change' if change else 'create'}",
            user=request.user,  # type: ignore[arg-type]
            obj=obj,
            summary=f"{obj._meta.verbose_name} “{obj}” {'changed' if change else 'created'} in the admin",
            # A JSON list re-typed with other spacing counts as changed to the form; not to us.
            changes={
                field: [before.get(field), value]
                for field, value in after.items()
                if before.get(field) != value
            },
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        record_audit(
            action=f"people.{obj._meta.model_name}.delete",
            user=request.user,  # type: ignore[arg-type]
            obj=obj,
            summary=f"{obj._meta.verbose_name} “{obj}” deleted in the admin",
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Model]) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class LeaveTypeForm(forms.ModelForm):
    class Meta:
        model = LeaveType
        fields = LEAVE_TYPE_FIELDS
        help_texts = {
            "approval_steps": 'Levels in order, e.g. ["manager", "hr"]; [] approves on request.',
        }

    def clean_approval_steps(self) -> list[str]:
        steps = self.cleaned_data.get("approval_steps") or []
        allowed = set(ApprovalStep.values)
        if not isinstance(steps, list) or any(step not in allowed for step in steps):
            raise forms.ValidationError(
                f'A list of levels, each one of: {", ".join(sorted(allowed))} (e.g. ["manager", "hr"]).'
            )
        return steps


@admin.register(LeaveType)
class LeaveTypeAdmin(AuditedAdmin):
    form = LeaveTypeForm
    list_display = ["name", "accrual_days", "accrual_period", "carry_over_cap", "allow_negative", "is_active"]


@admin.register(PublicHoliday)
class PublicHolidayAdmin(AuditedAdmin):
    list_display = ["date", "name", "region"]
    list_filter = ["region"]


class OnboardingTaskInline(admin.TabularInline):
    model = OnboardingTaskTemplate
    extra = 1


@admin.register(OnboardingTemplate)
class OnboardingTemplateAdmin(AuditedAdmin):
    list_display = ["name", "team", "job_title"]
    inlines = [OnboardingTaskInline]


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    list_display = ["name", "parent", "manager"]


@admin.register(Employee)
class EmployeeAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "team", "start_date", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    # New hires are added on the People page (audited, announced to workflows); this is for looking.
    readonly_fields = ["email", "start_date", "user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
