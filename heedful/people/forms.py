from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from heedful.accounts.models import User
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


class DateInput(forms.DateInput):
    input_type = "date"


class LeaveRequestForm(forms.Form):
    leave_type = forms.ModelChoiceField(LeaveType.objects.filter(is_active=True), label=_("Type"))
    start_date = forms.DateField(label=_("First day"), widget=DateInput)
    end_date = forms.DateField(label=_("Last day"), widget=DateInput)
    start_half = forms.BooleanField(label=_("First day is a half day (from midday)"), required=False)
    end_half = forms.BooleanField(label=_("Last day is a half day (until midday)"), required=False)
    note = forms.CharField(label=_("Note for the approver"), required=False, max_length=300)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start_date") and data.get("end_date") and data["end_date"] < data["start_date"]:
            self.add_error("end_date", _("The last day is before the first day."))
        return data


class LaunchOnboardingForm(forms.Form):
    employee = forms.ModelChoiceField(Employee.objects.filter(is_active=True), label=_("New hire"))
    template = forms.ModelChoiceField(
        OnboardingTemplate.objects.all(),
        label=_("Template"),
        required=False,
        help_text=_("Empty: the best match for the team and job title."),
    )


class HireForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    email = forms.EmailField(label=_("Work email"))
    job_title = forms.CharField(label=_("Job title"), max_length=100, required=False)
    team = forms.ModelChoiceField(Team.objects.all(), label=_("Team"), required=False)
    start_date = forms.DateField(label=_("Start date"), widget=DateInput)
    region = forms.CharField(
        label=_("Region for public holidays"),
        max_length=20,
        required=False,
        help_text=_("For example DE-BE."),
    )
    start_onboarding = forms.BooleanField(
        label=_("Start the onboarding checklist from the best-fitting template"), required=False, initial=True
    )


class ApprovalStepsField(forms.CharField):
    """Approval levels typed in order, "manager, hr"; stored as the list ["manager", "hr"]."""

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        if isinstance(value, list):
            return value
        text = super().to_python(value) or ""
        steps = [step.strip().lower() for step in re.split(r"[,\s]+", text) if step.strip()]
        unknown = [step for step in steps if step not in ApprovalStep.values]
        if unknown:
            raise forms.ValidationError(
                _("Unknown level: %(unknown)s. Use manager and hr, in order, e.g. “manager, hr”."),
                params={"unknown": ", ".join(unknown)},
            )
        return steps


class LeaveTypeForm(forms.ModelForm):
    """A leave type and its policy, as HR edits it on the leave settings page."""

    approval_steps = ApprovalStepsField(
        label=_("Approval levels"),
        required=False,
        help_text=_(
            "In order, separated by commas: “manager, hr” asks the manager, then HR. "
            "Empty: approved as soon as it is asked for."
        ),
    )

    class Meta:
        model = LeaveType
        fields = LEAVE_TYPE_FIELDS
        labels = {"is_active": _("Can be requested")}
        help_texts = {
            "accrual_days": _("The full year's entitlement; new starters get a share by months."),
            "carry_over_cap": _(
                "Unused days that move into the next year at most. Empty: no limit; 0: they lapse."
            ),
            "allow_negative": _("Lets people ask for more than they have (sick leave, say)."),
        }

    def clean_accrual_days(self) -> Decimal:
        days: Decimal = self.cleaned_data["accrual_days"]
        if not 0 <= days <= 366:
            raise forms.ValidationError(_("Between 0 and 366 days a year."))
        return days

    def clean_carry_over_cap(self) -> Decimal | None:
        cap: Decimal | None = self.cleaned_data.get("carry_over_cap")
        if cap is not None and cap < 0:
            raise forms.ValidationError(_("At least 0; leave it empty for no limit."))
        return cap


REGION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


class PublicHolidayForm(forms.ModelForm):
    class Meta:
        model = PublicHoliday
        fields = ["region", "date", "name"]
        widgets = {"date": DateInput}
        help_texts = {"region": _("As on the employees' records, e.g. DE-BE or AT.")}

    def clean_region(self) -> str:
        region = self.cleaned_data["region"].strip().upper()
        if not REGION.match(region):
            raise forms.ValidationError(_("A country code, optionally with a region: DE, DE-BE, AT-9."))
        return region

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        region, day = data.get("region"), data.get("date")
        taken = PublicHoliday.objects.filter(region=region, date=day).first() if region and day else None
        if taken is not None:
            self.add_error(
                "date",
                _("Already a holiday in %(region)s: %(name)s.") % {"region": region, "name": taken.name},
            )
        return data


class BalanceAdjustmentForm(forms.Form):
    """HR's correction to a balance: an opening balance, a day granted, a day taken back."""

    leave_type = forms.ModelChoiceField(LeaveType.objects.filter(is_active=True), label=_("Leave type"))
    days = forms.DecimalField(
        label=_("Days"),
        max_digits=6,
        decimal_places=2,
        min_value=Decimal(-366),
        max_value=Decimal(366),
        help_text=_("Positive adds days (e.g. 3 carried from the old system), negative takes them."),
    )
    effective_date = forms.DateField(
        label=_("Counts in the year of"), widget=DateInput, help_text=_("The balance year it belongs to.")
    )
    reason = forms.CharField(label=_("Reason"), max_length=200, help_text=_("The employee sees it."))

    def clean_days(self) -> Decimal:
        days: Decimal = self.cleaned_data["days"]
        if days == 0:
            raise forms.ValidationError(_("Zero days would change nothing."))
        return days


class OnboardingTemplateForm(forms.ModelForm):
    class Meta:
        model = OnboardingTemplate
        fields = ["name", "team", "job_title"]
        help_texts = {
            "team": _("Empty: any team. The most specific template (team and job title) is chosen."),
            "job_title": _("Empty: any job title."),
        }


class OnboardingTaskForm(forms.ModelForm):
    class Meta:
        model = OnboardingTaskTemplate
        fields = ["title", "owner", "due_offset_days", "assignee"]
        labels = {"assignee": _("Done by (for IT and HR tasks)")}
        help_texts = {"due_offset_days": _("−3 is three days before the first day; 0 the first day.")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Staff who do tasks (IT, HR, a manager); employees tick their own tasks as the new hire.
        assignee = cast(forms.ModelChoiceField, self.fields["assignee"])
        assignee.queryset = User.objects.filter(is_active=True).exclude(role="employee").order_by("email")

    def clean_due_offset_days(self) -> int:
        offset: int = self.cleaned_data["due_offset_days"]
        if not -90 <= offset <= 365:
            raise forms.ValidationError(_("Between 90 days before the start and a year after it."))
        return offset


OnboardingTaskFormSet = forms.inlineformset_factory(
    OnboardingTemplate, OnboardingTaskTemplate, form=OnboardingTaskForm, extra=2, can_delete=True
)
