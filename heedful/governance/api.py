"""REST API for the trust spine: decisions, the audit log and the approval queue.

Writes go through the same services as the pages, so an approval through the API
is audited, runs once and answers 409 when someone else decided first.
"""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from heedful.accounts.models import User
from heedful.accounts.permissions import has_perm
from heedful.accounts.roles import Perm
from heedful.governance import queries, services
from heedful.governance.actions import ActionError
from heedful.governance.models import AuditEvent, DecisionRecord, ProposalStatus, ProposedAction


class _WeightField(serializers.FloatField):
    """A factor's weight; null where there is no number (an erased decision keeps
    ``"(erased)"`` there, which failed the whole list with a 500)."""

    def to_representation(self, value: Any) -> float | None:  # type: ignore[override]
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)


class FactorSerializer(serializers.Serializer[dict[str, Any]]):
    text = serializers.CharField(help_text="The reason, in plain words.")
    weight = _WeightField(
        allow_null=True,
        help_text="Signed: positive pushed towards the decision, negative against it; "
        "null when unknown or erased with the person.",
    )


class DecisionSerializer(serializers.ModelSerializer[DecisionRecord]):
    factors = FactorSerializer(many=True, read_only=True)
    proposals: serializers.PrimaryKeyRelatedField[ProposedAction] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )

    class Meta:
        model = DecisionRecord
        fields = [
            "id",
            "created_at",
            "actor_kind",
            "actor_name",
            "actor_version",
            "subject_type",
            "subject_id",
            "subject_label",
            "inputs",
            "output",
            "output_summary",
            "confidence",
            "factors",
            "outcome",
            "outcome_at",
            "proposals",
        ]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "at",
            "actor_user",
            "actor_label",
            "actor_automation",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "summary",
            "changes",
            "ip_address",
        ]
        read_only_fields = fields


class ProposalSerializer(serializers.ModelSerializer[ProposedAction]):
    description = serializers.SerializerMethodField()
    # null until someone decides or undoes (the schema said a string, always).
    decided_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="email", read_only=True, allow_null=True
    )
    undone_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="email", read_only=True, allow_null=True
    )

    class Meta:
        model = ProposedAction
        fields = [
            "id",
            "action_type",
            "description",
            "params",
            "original_params",
            "subject_type",
            "subject_id",
            "subject_label",
            "proposed_by",
            "explanation",
            "decision",
            "policy_mode",
            "status",
            "created_at",
            "expires_at",
            "decided_by",
            "decided_at",
            "decision_reason",
            "executed_at",
            "result",
            "error",
            "undone_at",
            "undone_by",
        ]
        read_only_fields = fields

    def get_description(self, proposal: ProposedAction) -> str:
        return queries.proposal_row(proposal).description


class ApproveSerializer(serializers.Serializer[dict[str, Any]]):
    params = serializers.DictField(
        required=False,
        help_text="Edited values for the action type's editable details; omit to approve as proposed.",
    )


class RejectSerializer(serializers.Serializer[dict[str, Any]]):
    reason = serializers.CharField(help_text="Why the action should not run. Required.")


class ErrorSerializer(serializers.Serializer[dict[str, Any]]):
    detail = serializers.CharField()


DECIDE_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="The request or the action's details are not valid."),
    404: OpenApiResponse(ErrorSerializer, description="No such proposal."),
    409: OpenApiResponse(ErrorSerializer, description="The proposal was already decided, expired or undone."),
}


def _person(request: Request) -> User:
    # Every view here requires a role permission, which an anonymous user never has.
    return cast("User", request.user)


def _error(exc: Exception, code: int) -> Response:
    return Response({"detail": str(exc)}, status=code)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "subject_type", OpenApiTypes.STR, description="For example contact or employee."
            ),
            OpenApiParameter("subject_id", OpenApiTypes.STR),
            OpenApiParameter("actor", OpenApiTypes.STR, description="The rule, model or bot's name."),
        ]
    )
)
class DecisionViewSet(viewsets.ReadOnlyModelViewSet[DecisionRecord]):
    """Automated decisions with their reasons, newest first."""

    serializer_class = DecisionSerializer
    permission_classes = [has_perm(Perm.VIEW_DECISIONS)]

    def get_queryset(self) -> QuerySet[DecisionRecord]:
        params = self.request.query_params
        return queries.decisions(
            subject_type=params.get("subject_type", ""),
            subject_id=params.get("subject_id", ""),
            actor=params.get("actor", ""),
        ).prefetch_related("proposals")

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        decision = self.get_object()
        # The same rule as the page: opening a decision about an employee is audited.
        services.record_decision_read(
            decision, user=_person(request), ip_address=request.META.get("REMOTE_ADDR")
        )
        return Response(self.get_serializer(decision).data)


class AuditFilterSerializer(serializers.Serializer[dict[str, Any]]):
    actor = serializers.CharField(required=False, default="", help_text="Part of the actor's email or name.")
    action = serializers.CharField(required=False, default="", help_text="A prefix, e.g. action.")
    object_type = serializers.CharField(required=False, default="")
    object_id = serializers.CharField(required=False, default="")
    since = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="First day, inclusive."
    )
    until = serializers.DateField(
        required=False, allow_null=True, default=None, help_text="Last day, inclusive."
    )


@extend_schema_view(list=extend_schema(parameters=[AuditFilterSerializer]))
class AuditEventViewSet(viewsets.ReadOnlyModelViewSet[AuditEvent]):
    """The append-only audit log (owner only). Days are in the business's time zone."""

    serializer_class = AuditEventSerializer
    permission_classes = [has_perm(Perm.VIEW_AUDIT_LOG)]

    def get_queryset(self) -> QuerySet[AuditEvent]:
        if self.action != "list":
            return AuditEvent.objects.all()
        filters = AuditFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return queries.audit_events(**filters.validated_data)


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=ProposalStatus.values)],
    )
)
class ApprovalViewSet(viewsets.ReadOnlyModelViewSet[ProposedAction]):
    """Actions automations proposed, and the decisions on them."""

    serializer_class = ProposalSerializer

    def get_permissions(self) -> list[Any]:
        perm = Perm.UNDO_ACTIONS if self.action == "undo" else Perm.DECIDE_APPROVALS
        return [has_perm(perm)()]

    def get_queryset(self) -> QuerySet[ProposedAction]:
        return queries.proposals(status=self.request.query_params.get("status", ""))

    def _decided(self, pk: int) -> Response:
        return Response(self.get_serializer(queries.proposals().get(pk=pk)).data)

    @extend_schema(request=ApproveSerializer, responses={200: ProposalSerializer, **DECIDE_ERRORS})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        proposal = self.get_object()
        body = ApproveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.approve_action(
                proposal.pk, user=_person(request), edited_params=body.validated_data.get("params")
            )
        except ActionError as exc:
            return _error(exc, status.HTTP_400_BAD_REQUEST)
        except services.ProposalStateError as exc:
            return _error(exc, status.HTTP_409_CONFLICT)
        return self._decided(proposal.pk)

    @extend_schema(request=RejectSerializer, responses={200: ProposalSerializer, **DECIDE_ERRORS})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        proposal = self.get_object()
        body = RejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.reject_action(proposal.pk, user=_person(request), reason=body.validated_data["reason"])
        except ActionError as exc:
            return _error(exc, status.HTTP_400_BAD_REQUEST)
        except services.ProposalStateError as exc:
            return _error(exc, status.HTTP_409_CONFLICT)
        return self._decided(proposal.pk)

    @extend_schema(request=None, responses={200: ProposalSerializer, **DECIDE_ERRORS})
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str) -> Response:
        proposal = self.get_object()
        try:
            services.undo_action(proposal.pk, user=_person(request))
        except ActionError as exc:
            return _error(exc, status.HTTP_400_BAD_REQUEST)
        except services.ProposalStateError as exc:
            return _error(exc, status.HTTP_409_CONFLICT)
        return self._decided(proposal.pk)


def register(router: DefaultRouter) -> None:
    router.register("decisions", DecisionViewSet, basename="decision")
    router.register("audit-events", AuditEventViewSet, basename="audit-event")
    router.register("approvals", ApprovalViewSet, basename="approval")
