"""Workflows as data: definitions and their immutable versions, recorded events, runs,
step runs, the consideration log and the outbox.

A workflow is a trigger plus a flat list of steps (see ``definition.py`` for the
schema). Every save makes a new ``WorkflowVersion``; a run keeps the version it
started with. Every event is recorded, and for every event each workflow that
listens for it leaves a ``Consideration``: started, or skipped and why.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ImmutableError(RuntimeError):
    """A workflow version was about to be changed; save a new one instead."""


class Event(models.Model):
    """A domain event, recorded in the transaction of the change it describes."""

    name = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField(default=dict, blank=True)
    subject_type = models.CharField(max_length=30, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    subject_label = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    source = models.CharField(max_length=100, blank=True)
    # Inbound webhooks and retried emitters pass a key so one fact is recorded once.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    # Set when workflows have considered it; the sweep re-queues events left unset.
    matched_at = models.DateTimeField(null=True, blank=True)
    # When the sweep last queued it again, so each sweep period queues it at most once.
    requeued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["name", "-occurred_at"]),
            models.Index(fields=["subject_type", "subject_id", "-occurred_at"]),
            models.Index(fields=["matched_at", "occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk}"


class WorkflowDefinition(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=False)
    current_version = models.ForeignKey(
        "WorkflowVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Copied from the current version so that matching an event is one indexed query.
    trigger_event = models.CharField(max_length=100, blank=True, db_index=True)
    template_key = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class WorkflowVersion(models.Model):
    workflow = models.ForeignKey(WorkflowDefinition, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["workflow", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["workflow", "number"], name="workflows_version_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Runs point at their version: changing one would rewrite history under them.
        if self.pk is not None:
            raise ImmutableError("Workflow versions are immutable; save a new version.")
        super().save(*args, **kwargs)


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    WAITING = "waiting", _("Waiting")
    RETRYING = "retrying", _("Retrying after an error")
    COMPLETED = "completed", _("Completed")
    STOPPED = "stopped", _("Stopped")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE_RUN_STATUSES = (RunStatus.RUNNING, RunStatus.WAITING, RunStatus.RETRYING)
FINISHED_RUN_STATUSES = (RunStatus.COMPLETED, RunStatus.STOPPED, RunStatus.FAILED, RunStatus.CANCELLED)


class WorkflowRun(models.Model):
    workflow = models.ForeignKey(WorkflowDefinition, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(WorkflowVersion, on_delete=models.PROTECT, related_name="runs")
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    subject_type = models.CharField(max_length=30, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    subject_label = models.CharField(max_length=200, blank=True)
    status = models.CharField(
        max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING, db_index=True
    )
    # Index into the version's steps of the next step to run.
    cursor = models.PositiveIntegerField(default=0)
    # Why it started: {"event": ..., "conditions": [evaluations]}; set once.
    started_because = models.JSONField(default=dict, blank=True)
    # What steps may read: the event, the subject, outputs of earlier steps.
    context = models.JSONField(default=dict, blank=True)
    # When a waiting or retrying run is due for the sweep.
    wake_at = models.DateTimeField(null=True, blank=True)
    waiting_event = models.CharField(max_length=100, blank=True, db_index=True)
    wait_match = models.JSONField(default=dict, blank=True)
    waiting_proposal_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # The event that woke a run waiting for one; the wait step reads it and clears it.
    wake_event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    # Set whenever the run moves; a running run untouched for long lost its task.
    touched_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Re-entry rules as unique keys, so two racing matchers cannot both start a run.
    once_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    active_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # One event starts a workflow at most once, however often it is matched.
            models.UniqueConstraint(
                fields=["workflow", "event"],
                condition=models.Q(event__isnull=False),
                name="workflows_run_once_per_event",
            )
        ]
        indexes = [
            models.Index(fields=["status", "wake_at"]),
            models.Index(fields=["status", "touched_at"]),
            models.Index(fields=["waiting_event", "subject_type", "subject_id"]),
            # Re-entry rules ask for a workflow's runs about one subject; without it, each asking
            # read every run of the workflow (a campaign of a million: a million rows per batch).
            models.Index(fields=["workflow", "subject_type", "subject_id"]),
        ]

    def __str__(self) -> str:
        return f"run #{self.pk} of {self.workflow_id}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_RUN_STATUSES


class StepStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class StepRun(models.Model):
    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="step_runs")
    step_id = models.CharField(max_length=60)
    step_index = models.PositiveIntegerField()
    step_type = models.CharField(max_length=30)
    # A retried step gets a new row; the failed attempt stays in the log.
    attempt = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=16, choices=StepStatus.choices)
    # Plain words for the per-step log: why the branch went this way, what was sent.
    explanation = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    decision_id = models.BigIntegerField(null=True, blank=True)
    proposal_id = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "step_id", "attempt"], name="workflows_steprun_unique_attempt"
            )
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.step_id}#{self.attempt} {self.status}"


class Consideration(models.Model):
    """One workflow's verdict on one event: started a run, or skipped and why."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="considerations")
    workflow = models.ForeignKey(WorkflowDefinition, on_delete=models.CASCADE, related_name="considerations")
    version = models.ForeignKey(WorkflowVersion, null=True, blank=True, on_delete=models.SET_NULL)
    started = models.BooleanField(default=False)
    reason = models.CharField(max_length=300)
    # The condition evaluations: [{"path", "op", "expected", "actual", "passed", "text"}].
    details = models.JSONField(default=list, blank=True)
    run = models.ForeignKey(WorkflowRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["event", "workflow"]
        constraints = [
            models.UniqueConstraint(fields=["event", "workflow"], name="workflows_consideration_unique")
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id} on {self.event_id}: {self.reason}"


class OutboxKind(models.TextChoices):
    EMAIL = "email", _("Email")
    WEBHOOK = "webhook", _("Webhook")


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class OutboxMessage(models.Model):
    """An email or webhook call written in the transaction that decided to send it.

    Delivery happens after commit, at least once, with a stable ``Message-ID`` /
    ``X-Heedful-Delivery`` derived from ``idempotency_key`` so a receiver can drop a
    repeat; the key's uniqueness means the decision itself can never queue two.
    """

    kind = models.CharField(max_length=10, choices=OutboxKind.choices)
    idempotency_key = models.CharField(max_length=200, unique=True)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # While ``sending``: the claim expires here, after which the sweep may try again.
    locked_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    run = models.ForeignKey(
        WorkflowRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbox"
    )
    proposal_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.idempotency_key} ({self.status})"


class WorkflowTask(models.Model):
    """A to-do a workflow created for a person ("call Rosa about her delayed order")."""

    title = models.CharField(max_length=300)
    notes = models.TextField(blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_at = models.DateTimeField(null=True, blank=True)
    subject_type = models.CharField(max_length=30, blank=True)
    subject_id = models.CharField(max_length=64, blank=True)
    subject_label = models.CharField(max_length=200, blank=True)
    run = models.ForeignKey(WorkflowRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["done_at", "due_at", "-id"]

    def __str__(self) -> str:
        return self.title
