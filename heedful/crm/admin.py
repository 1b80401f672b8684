from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from heedful.crm.models import Company, Contact, Note, Tag, TimelineEntry


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "company", "source", "created_at"]
    search_fields = ["email", "first_name", "last_name"]
    list_select_related = ["company"]
    # Edits belong in the app, where they are audited; the admin is for looking.
    readonly_fields = ["email", "source", "created_at", "updated_at"]


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "domain", "created_at"]
    search_fields = ["name", "domain"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "colour"]


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["contact", "author", "automation", "created_at"]
    raw_id_fields = ["contact"]


@admin.register(TimelineEntry)
class TimelineEntryAdmin(admin.ModelAdmin):
    """Read-only: the timeline is append-only."""

    list_display = ["occurred_at", "contact", "kind", "title", "source"]
    list_filter = ["kind", "source"]
    raw_id_fields = ["contact"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TimelineEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TimelineEntry | None = None) -> bool:
        return False
