from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from heedful.people.models import Employee, LeaveType, OnboardingTemplate, Team


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
