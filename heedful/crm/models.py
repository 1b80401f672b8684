"""Contacts, companies, tags, notes and the one append-only timeline per contact (C5).

Other apps write here only through ``heedful.crm.services`` and read through
``heedful.crm.queries``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from heedful.governance.models import AppendOnlyError


class Company(models.Model):
    name = models.CharField(_("name"), max_length=200)
    domain = models.CharField(_("domain"), max_length=200, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = _("companies")
        constraints = [
            # "ACME" and "Acme" typed by two people are the same company.
            models.UniqueConstraint(Lower("name"), name="crm_company_name_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)
    colour = models.CharField(_("colour"), max_length=7, default="#4a5563")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A customer, client or lead. The email, when known, identifies the person."""

    # Stored lower-cased and stripped (services normalise); "" means unknown.
    email = models.EmailField(_("email"), max_length=254, blank=True)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
    )
    postcode = models.CharField(_("postcode"), max_length=20, blank=True)
    # Custom attributes a business adds (e.g. from CSV columns): {"newsletter": "yes"}.
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="contacts")
    # Where the contact came from: "manual", "csv", "inbox", "api", …
    source = models.CharField(_("source"), max_length=50, default="manual")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            # Lower() as well as normalising in services: a raw ORM write must not slip a
            # second "Ana@Example.com" past the uniqueness the inbox relies on.
            models.UniqueConstraint(
                Lower("email"), condition=~models.Q(email=""), name="crm_contact_email_ci_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or f"#{self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def attribute_rows(self) -> list[tuple[str, Any]]:
        """The attributes as (name, value) pairs for templates, which would read an attribute
        called "items" (an imported CSV column) in place of ``attributes.items``."""
        return list(self.attributes.items()) if isinstance(self.attributes, dict) else []

    @property
    def company_name(self) -> str:
        return self.company.name if self.company else ""


class Note(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set instead of ``author`` when an automation wrote the note.
    automation = models.CharField(max_length=200, blank=True)
    # What caused the note ("proposal:42"), so an action that runs twice notes once.
    origin = models.CharField(max_length=100, blank=True, db_index=True)
    body = models.TextField(_("note"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.body[:50]


class TimelineKind(models.TextChoices):
    MESSAGE = "message", _("Message")
    ORDER = "order", _("Order")
    APPOINTMENT = "appointment", _("Appointment")
    SURVEY = "survey", _("Survey")
    CAMPAIGN = "campaign", _("Campaign")
    WORKFLOW = "workflow", _("Workflow")
    NOTE = "note", _("Note")
    DECISION = "decision", _("Decision")
    LEAD = "lead", _("Lead")
    SYSTEM = "system", _("System")


class TimelineQuerySet(models.QuerySet["TimelineEntry"]):
    # A bulk delete would bypass the model's guard. Erasing a contact still works: the
    # cascade deletes through the collector, not through QuerySet.delete(). update() stays
    # open because deleting a user sets actor_user to NULL through it.
    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Timeline entries are append-only.")


class TimelineEntry(models.Model):
    """One touchpoint with a contact. Written once, never changed; gone only with the contact."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="timeline")
    occurred_at = models.DateTimeField(default=timezone.now)
    recorded_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(_("kind"), max_length=20, choices=TimelineKind.choices)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    # The app that wrote the entry ("inbox", "workflows", "crm", …).
    source = models.CharField(_("source"), max_length=50, blank=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_automation = models.CharField(max_length=200, blank=True)
    # The object the entry is about, e.g. ("conversation", "17"), kept as text across apps.
    ref_type = models.CharField(max_length=50, blank=True)
    ref_id = models.CharField(max_length=64, blank=True)

    objects = TimelineQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name_plural = _("timeline entries")
        indexes = [models.Index(fields=["contact", "-occurred_at"], name="crm_timeline_contact_time")]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.kind}: {self.title}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AppendOnlyError("Timeline entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("Timeline entries are append-only.")

    @property
    def actor_label(self) -> str:
        if self.actor_user is not None:
            return str(self.actor_user.display_name)
        return self.actor_automation or "system"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("waiting for the background worker")
    RUNNING = "running", _("importing")
    DONE = "done", _("finished")
    FAILED = "failed", _("failed")


class ContactImport(models.Model):
    """One uploaded CSV file, imported by a background task (``crm.services.run_contact_import``).

    A file of 50,000 rows takes longer than a web server lets a request live, so the upload is
    kept here until the worker has imported it, then dropped: only the report stays, and that
    for a week (``forget_old_contact_imports``), since its error lines quote the file.
    """

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    filename = models.CharField(max_length=255)
    content = models.BinaryField(editable=False)
    all_or_nothing = models.BooleanField(default=True)
    status = models.CharField(max_length=8, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    report = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import #{self.pk} {self.filename}"

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)
