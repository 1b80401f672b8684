"""Admin views of the trust spine: for looking, never for changing.

The audit log is append-only and decisions are evidence, so the admin offers no
add, change or delete here; approvals are decided in the queue, where they are audited.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from heedful.governance.models import ActionPolicy, AuditEvent, DecisionRecord, ProposedAction


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_label", "action", "object_type", "object_id", "summary"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_label", "action", "object_repr", "object_id", "summary"]
    date_hierarchy = "at"
    list_select_related = False


@admin.register(DecisionRecord)
class DecisionRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "actor_name",
        "actor_version",
        "subject_type",
        "subject_id",
        "output_summary",
    ]
    list_filter = ["actor_kind", "actor_name", "subject_type"]
    search_fields = ["actor_name", "subject_label", "output_summary"]
    date_hierarchy = "created_at"


@admin.register(ProposedAction)
class ProposedActionAdmin(ReadOnlyAdmin):
    list_display = ["id", "action_type", "status", "subject_label", "proposed_by", "created_at", "decided_by"]
    list_filter = ["status", "action_type"]
    list_select_related = ["decided_by"]


@admin.register(ActionPolicy)
class ActionPolicyAdmin(ReadOnlyAdmin):
    list_display = ["action_type", "mode", "updated_by", "updated_at"]
