"""The trust spine: decision records, the audit log and the approval queue.

Every automated decision is written down with its reasons (DecisionRecord);
every change by a person or an automation is in the append-only AuditEvent log;
every automated action that touches a person goes through ProposedAction, held
for approval when its ActionPolicy says ``ask``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Case, Value, When
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(RuntimeError):
    """An append-only record was about to be changed or deleted."""


ERASED = "(erased)"


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    """Bulk writes skip save() and delete(), so the queryset refuses them too.

    Deleting a user still works: Django nulls ``actor_user`` through the base manager,
    and ``actor_label`` keeps who it was. The one change allowed is ``_redact_for_erasure``.
    """

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("Audit events are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Audit events are append-only.")

    def _redact_for_erasure(self) -> int:
        """Replace what these events say about the object by ``ERASED``; the number of events.

        The one exception to append-only, reached only through
        ``governance.services.redact_audit_events``: the right to erasure (GDPR art. 17) outranks
        the log's immutability, so an erased person's name, address and words leave the log too.
        What is left still proves who did what, when, to which object (type and id): the
        ``object_repr`` becomes ``"<type> #<id> (erased)"``, a non-empty ``summary`` becomes
        ``"(erased)"`` and every value in ``changes`` too, under its key (which fields changed
        says nothing about the person). The erasure's own event says that, and when, it happened.
        Private and without parameters, so no caller can write anything else into the log.
        """
        rows = list(self.values_list("pk", "changes"))
        by_fields: dict[tuple[str, ...], list[int]] = {}
        for pk, changes in rows:
            by_fields.setdefault(tuple(sorted(changes or {})), []).append(pk)
        for fields, pks in by_fields.items():
            # Chunked: SQLite caps the parameters of one statement.
            for start in range(0, len(pks), 500):
                chosen = AuditEvent._base_manager.filter(pk__in=pks[start : start + 500])
                chosen.update(
                    object_repr=Concat(
                        "object_type",
                        Value(" #"),
                        "object_id",
                        Value(f" {ERASED}"),
                        output_field=models.CharField(),
                    ),
                    summary=Case(When(summary="", then=Value("")), default=Value(ERASED)),
                    changes=dict.fromkeys(fields, ERASED),
                )
        return len(rows)


class AuditEvent(models.Model):
    """Who (a user or an automation) did what to which object, when and why."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as text so the log still says who it was after a user is deleted.
    actor_label = models.CharField(max_length=200)
    actor_automation = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=100, db_index=True)
    object_type = models.CharField(max_length=50, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(max_length=200, blank=True)
    summary = models.TextField(blank=True)
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Audit events are append-only.")


class ActorKind(models.TextChoices):
    BOT = "bot", _("Bot")
    RULE = "rule", _("Rule")
    MODEL = "model", _("Model")
    WORKFLOW = "workflow", _("Workflow")


class DecisionRecord(models.Model):
    """One automated decision with everything needed to explain it later."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_name = models.CharField(max_length=100, db_index=True)
    actor_version = models.CharField(max_length=50, blank=True)
    subject_type = models.CharField(max_length=30, blank=True, db_index=True)
    subject_id = models.CharField(max_length=64, blank=True, db_index=True)
    subject_label = models.CharField(max_length=200, blank=True)
    inputs = models.JSONField(default=dict, blank=True)
    output = models.JSONField(default=dict, blank=True)
    output_summary = models.CharField(max_length=300)
    confidence = models.FloatField(null=True, blank=True)
    # Each factor: {"text": plain words, "weight": signed float}.
    factors = models.JSONField(default=list, blank=True)
    # What happened next ("answer sent", "queued for approval", "undone by Ana").
    outcome = models.CharField(max_length=300, blank=True)
    outcome_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["subject_type", "subject_id", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.actor_name}: {self.output_summary}"

    # Templates read these, not ``inputs.items``: a template looks a key up before a method, so
    # an input called "items" (free JSON from workflows and the API) would replace the method.
    @property
    def input_rows(self) -> list[tuple[str, Any]]:
        return list(self.inputs.items()) if isinstance(self.inputs, dict) else []

    @property
    def output_rows(self) -> list[tuple[str, Any]]:
        return list(self.output.items()) if isinstance(self.output, dict) else []


class PolicyMode(models.TextChoices):
    AUTO = "auto", _("Run automatically")
    ASK = "ask", _("Ask first")
    NEVER = "never", _("Never")


class ActionPolicy(models.Model):
    """The owner's choice for one action type; absent, the action type's default holds."""

    action_type = models.CharField(max_length=100, unique=True)
    mode = models.CharField(max_length=8, choices=PolicyMode.choices)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.action_type}: {self.mode}"


class ProposalStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved, about to run")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    REJECTED = "rejected", _("Rejected")
    EXPIRED = "expired", _("Expired")
    BLOCKED = "blocked", _("Blocked by policy")
    UNDONE = "undone", _("Undone")


class ProposedAction(models.Model):
    """An action an automation wants to take, and what became of it."""

    action_type = models.CharField(max_length=100, db_index=True)
    params = models.JSONField(default=dict)
    subject_type = models.CharField(max_length=30, blank=True, db_index=True)
    subject_id = models.CharField(max_length=64, blank=True, db_index=True)
    subject_label = models.CharField(max_length=200, blank=True)
    proposed_by = models.CharField(max_length=200)
    explanation = models.TextField()
    decision = models.ForeignKey(
        DecisionRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="proposals"
    )
    # A caller's key makes proposing idempotent: the same key never queues twice.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    policy_mode = models.CharField(max_length=8, choices=PolicyMode.choices)
    status = models.CharField(
        max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.PENDING, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    original_params = models.JSONField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    execution_count = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    undo_data = models.JSONField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action_type} ({self.status})"

    @property
    def can_undo(self) -> bool:
        return self.status == ProposalStatus.DONE and self.undo_data is not None
