"""Employees and teams: the people side of the business (C11–C15 build on these)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from heedful.people import leave_math


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    manager = models.ForeignKey(
        "Employee", null=True, blank=True, on_delete=models.SET_NULL, related_name="managed_teams"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Employee(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="employee"
    )
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    email = models.EmailField(_("work email"), unique=True)
    job_title = models.CharField(_("job title"), max_length=100, blank=True)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    start_date = models.DateField(_("start date"))
    # Public holidays differ by region (e.g. "DE-BY"); leave calculations use it.
    region = models.CharField(_("region"), max_length=20, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["first_name", "last_name"]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


# --- Leave (C12) -------------------------------------------------------------------------


class AccrualPeriod(models.TextChoices):
    # The whole year's entitlement is available from 1 January (pro rata in the first year).
    YEAR = "year", _("per year, up front")
    # One twelfth is earned at the start of each month worked.
    MONTH = "month", _("per month")


class ApprovalStep(models.TextChoices):
    MANAGER = "manager", _("the manager")
    HR = "hr", _("HR")


class LeaveType(models.Model):
    """A kind of leave and its policy: how it accrues, carries over and who approves it."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    accrual_days = models.DecimalField(_("days per year"), max_digits=5, decimal_places=2, default=0)
    accrual_period = models.CharField(
        _("accrual"), max_length=8, choices=AccrualPeriod.choices, default=AccrualPeriod.YEAR
    )
    # None means unused days carry over without limit; 0 means they lapse on 31 December.
    carry_over_cap = models.DecimalField(
        _("carry-over cap"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    allow_negative = models.BooleanField(_("balance may go negative"), default=False)
    # Ordered approval levels, e.g. ["manager", "hr"]; [] approves on request.
    approval_steps = models.JSONField(_("approval steps"), default=list, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PublicHoliday(models.Model):
    region = models.CharField(_("region"), max_length=20)
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["region", "date"], name="people_holiday_once_per_day")]

    def __str__(self) -> str:
        return f"{self.name} ({self.region}, {self.date})"


class LeaveAdjustment(models.Model):
    """A manual correction to a balance (opening balance, extra day granted); negative takes days."""

    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="leave_adjustments")
    leave_type = models.ForeignKey(LeaveType, on_delete=models.PROTECT, related_name="+")
    days = models.DecimalField(max_digits=6, decimal_places=2)
    effective_date = models.DateField()
    reason = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["effective_date", "pk"]

    def __str__(self) -> str:
        return f"{self.employee}: {self.days:+} {self.leave_type} ({self.reason})"


class LeaveStatus(models.TextChoices):
    PENDING = "pending", _("waiting for approval")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    CANCELLED = "cancelled", _("cancelled")


class LeaveRequest(models.Model):
    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="leave_requests")
    leave_type = models.ForeignKey(LeaveType, on_delete=models.PROTECT, related_name="requests")
    start_date = models.DateField(_("first day"))
    end_date = models.DateField(_("last day"))
    start_half = models.BooleanField(_("first day is a half day"), default=False)
    end_half = models.BooleanField(_("last day is a half day"), default=False)
    # Working days at the time of the request: later changes to holidays don't rewrite history.
    days = models.DecimalField(max_digits=6, decimal_places=2)
    # The same days per calendar year ({"2026": "2", "2027": "1.5"}), each spent from that year's
    # balance. Empty on rows written without it (fixtures): then all days count in the first year.
    days_by_year = models.JSONField(default=dict, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    status = models.CharField(max_length=12, choices=LeaveStatus.choices, default=LeaveStatus.PENDING)
    # Index into leave_type.approval_steps of the level that decides next.
    current_step = models.PositiveSmallIntegerField(default=0)
    # Rotated whenever a level decides, so an emailed decision link works exactly once.
    decision_nonce = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-start_date", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")), name="people_leave_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.employee}: {self.leave_type} {self.start_date}–{self.end_date}"

    def year_parts(self) -> list[leave_math.Booking]:
        """What this request spends from each year's balance (see ``leave_math.split_by_year``)."""
        if not self.days_by_year:
            return [leave_math.Booking(on=self.start_date, days=Decimal(str(self.days)))]
        return [
            leave_math.Booking(on=max(self.start_date, date(int(year), 1, 1)), days=Decimal(days))
            for year, days in sorted(self.days_by_year.items())
        ]

    @property
    def step_kind(self) -> str:
        steps = list(self.leave_type.approval_steps)
        return steps[self.current_step] if self.current_step < len(steps) else ""


class LeaveDecision(models.Model):
    """One approval level's answer, as given in the UI or through an emailed link."""

    request = models.ForeignKey(LeaveRequest, on_delete=models.CASCADE, related_name="decisions")
    step = models.PositiveSmallIntegerField()
    step_kind = models.CharField(max_length=12, choices=ApprovalStep.choices)
    approved = models.BooleanField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    via = models.CharField(max_length=8, choices=[("ui", "web page"), ("email", "email link")])
    comment = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["step", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["request", "step"], name="people_one_decision_per_step")
        ]

    def __str__(self) -> str:
        return f"{self.step_kind}: {'approved' if self.approved else 'rejected'}"


class FeedKey(models.Model):
    """The current key of someone's private leave feed address. Asking for a new address makes a
    new key, and the old address stops working (a leaked one can be retired). Nobody who never
    asked has a row: their address is the first kind, the signed account id alone."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=32)
    issued_at = models.DateTimeField(auto_now=True)  # when the current address was made

    def __str__(self) -> str:
        return f"leave feed key of user {self.user_id}"


class SentNotification(models.Model):
    """Claims an email before it is sent, so a retried task never sends it twice."""

    key = models.CharField(max_length=200, unique=True)
    sent_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key


# --- Onboarding (C11) --------------------------------------------------------------------


class TaskOwner(models.TextChoices):
    NEW_HIRE = "new_hire", _("the new hire")
    MANAGER = "manager", _("the manager")
    HR = "hr", _("HR")
    IT = "it", _("IT")


class OnboardingTemplate(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    # Chosen for a new hire whose team / job title matches; blank fields match everyone.
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    job_title = models.CharField(_("job title"), max_length=100, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OnboardingTaskTemplate(models.Model):
    template = models.ForeignKey(OnboardingTemplate, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(_("task"), max_length=200)
    owner = models.CharField(_("done by"), max_length=10, choices=TaskOwner.choices)
    # Relative to the start date: -3 is three days before the first day.
    due_offset_days = models.IntegerField(_("due (days from start)"), default=0)
    # Who does IT (or any) tasks when no role covers it; empty falls back to HR.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["due_offset_days", "pk"]

    def __str__(self) -> str:
        return self.title


class Onboarding(models.Model):
    employee = models.ForeignKey(Employee, on_delete=models.CASCADE, related_name="onboardings")
    template = models.ForeignKey(OnboardingTemplate, null=True, on_delete=models.SET_NULL, related_name="+")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Onboarding of {self.employee}"


class OnboardingTask(models.Model):
    onboarding = models.ForeignKey(Onboarding, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    owner = models.CharField(max_length=10, choices=TaskOwner.choices)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_date = models.DateField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_reminded_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["due_date", "pk"]

    def __str__(self) -> str:
        return self.title
