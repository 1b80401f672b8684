from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from heedful.accounts.roles import Perm
from heedful.crm.erasure import erase_contact, erasure_preview
from heedful.crm.models import Company, Contact, Note, Tag, TimelineEntry


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "email", "company", "source", "created_at"]
    search_fields = ["email", "first_name", "last_name"]
    list_select_related = ["company"]
    # Edits belong in the app, where they are audited; the admin is for looking.
    readonly_fields = ["email", "source", "created_at", "updated_at"]

    # Deleting here is erasing, as in the app and the API: the inbox's data goes too, audited.
    def has_delete_permission(self, request: HttpRequest, obj: Contact | None = None) -> bool:
        user = request.user
        return bool(user.is_authenticated and user.can(Perm.ERASE_CONTACTS))

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[Any], dict[str, int], set[str], list[Any]]:
        # Django's own list asks for delete permission on the append-only timeline, which nobody
        # has; the erasure's own count says what goes.
        counts: dict[str, int] = {}
        for contact in objs:
            for kind, n in erasure_preview(contact).rows.items():
                counts[kind] = counts.get(kind, 0) + n
        return [str(c) for c in objs], {k: n for k, n in counts.items() if n}, set(), []

    def delete_model(self, request: HttpRequest, obj: Contact) -> None:
        erase_contact(contact=obj, user=request.user)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        for contact in queryset:
            erase_contact(contact=contact, user=request.user)  # type: ignore[arg-type]


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
