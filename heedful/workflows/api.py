"""The workflows API under /api/v1/: workflows (with their definition), runs with their step
log, and events (emit one from another system; read the log with each workflow's verdict).

Every write goes through ``heedful.workflows.services`` / ``events``, so it audits like the pages.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from heedful.accounts.models import User
from heedful.accounts.permissions import has_perm
from heedful.accounts.roles import Perm
from heedful.api_fields import OBJECT_JSON_MAPPING, StorableJsonField
from heedful.governance.services import Subject
from heedful.workflows import queries, services
from heedful.workflows.catalogue import CATALOGUE
from heedful.workflows.definition import DefinitionError
from heedful.workflows.events import emit_event
from heedful.workflows.models import Consideration, Event, StepRun, WorkflowDefinition, WorkflowRun


def _user(request: Request) -> User:
    """The signed-in user (IsAuthenticated has run before any handler here)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionError("not signed in")
    return user


class _ReadOrManage(BasePermission):
    """Reading needs view_decisions; writing needs manage_policies (as on the pages)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        perm = Perm.VIEW_DECISIONS if request.method in SAFE_METHODS else Perm.MANAGE_POLICIES
        return bool(has_perm(perm)().has_permission(request, view))


class WorkflowSerializer(serializers.ModelSerializer[WorkflowDefinition]):
    definition = StorableJsonField(write_only=True)
    current_definition = serializers.SerializerMethodField()
    version = serializers.SerializerMethodField()

    class Meta:
        model = WorkflowDefinition
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "enabled",
            "trigger_event",
            "version",
            "definition",
            "current_definition",
        ]
        read_only_fields = ["slug", "enabled", "trigger_event"]

    def get_current_definition(self, obj: WorkflowDefinition) -> dict[str, Any]:
        return obj.current_version.definition if obj.current_version else {}

    def get_version(self, obj: WorkflowDefinition) -> int:
        return obj.current_version.number if obj.current_version else 0


class StepRunSerializer(serializers.ModelSerializer[StepRun]):
    class Meta:
        model = StepRun
        fields = [
            "step_id",
            "step_type",
            "attempt",
            "status",
            "explanation",
            "detail",
            "error",
            "decision_id",
            "proposal_id",
            "started_at",
            "finished_at",
        ]


class RunSerializer(serializers.ModelSerializer[WorkflowRun]):
    steps = StepRunSerializer(source="step_runs", many=True, read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)

    class Meta:
        model = WorkflowRun
        fields = [
            "id",
            "workflow",
            "version",
            "event",
            "subject_type",
            "subject_id",
            "subject_label",
            "status",
            "cursor",
            "started_because",
            "error",
            "started_at",
            "finished_at",
            "wake_at",
            "steps",
        ]


class ConsiderationSerializer(serializers.ModelSerializer[Consideration]):
    class Meta:
        model = Consideration
        fields = ["workflow", "started", "reason", "details", "run"]


class EventSerializer(serializers.ModelSerializer[Event]):
    serializer_field_mapping = OBJECT_JSON_MAPPING  # the payload is an object of storable text
    considerations = ConsiderationSerializer(many=True, read_only=True)
    # Not unique-validated: sending the same key again is how a sender retries safely.
    idempotency_key = serializers.CharField(required=False, allow_null=True, max_length=200)

    class Meta:
        model = Event
        fields = [
            "id",
            "name",
            "payload",
            "subject_type",
            "subject_id",
            "subject_label",
            "occurred_at",
            "idempotency_key",
            "matched_at",
            "considerations",
        ]
        read_only_fields = ["occurred_at", "matched_at"]

    def validate_name(self, value: str) -> str:
        if value not in CATALOGUE:
            raise serializers.ValidationError(f"{value!r} is not in the event catalogue")
        return value


class WorkflowViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = WorkflowSerializer
    permission_classes = [IsAuthenticated, _ReadOrManage]

    def get_queryset(self) -> QuerySet[WorkflowDefinition]:
        return queries.workflows_with_counts()

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        try:
            serializer.instance = services.create_workflow(
                name=data["name"],
                definition=data["definition"],
                description=data.get("description", ""),
                user=_user(self.request),
            )
        except DefinitionError as exc:
            raise serializers.ValidationError({"definition": exc.errors}) from None

    def perform_update(self, serializer: Any) -> None:
        data = serializer.validated_data
        try:
            if "definition" in data:
                services.save_version(
                    serializer.instance.pk, definition=data["definition"], user=_user(self.request)
                )
        except DefinitionError as exc:
            raise serializers.ValidationError({"definition": exc.errors}) from None
        WorkflowDefinition.objects.filter(pk=serializer.instance.pk).update(
            **{k: data[k] for k in ("name", "description") if k in data}
        )
        serializer.instance = WorkflowDefinition.objects.get(pk=serializer.instance.pk)

    @action(detail=True, methods=["post"])
    def enable(self, request: Request, pk: str) -> Response:
        data: Any = request.data
        raw = data.get("enabled", True) if isinstance(data, dict) else True
        # "false" and 0 switch it off (bool("false") is True); anything else is a 400.
        try:
            enabled = serializers.BooleanField().run_validation(raw)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"enabled": exc.detail}) from None
        # get_object: an unknown or malformed id is a 404, not an exception in the service.
        workflow = services.set_enabled(self.get_object().pk, enabled=enabled, user=_user(request))
        return Response(WorkflowSerializer(workflow).data)


class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = RunSerializer
    permission_classes = [IsAuthenticated, _ReadOrManage]

    def get_queryset(self) -> QuerySet[WorkflowRun]:
        runs = (
            WorkflowRun.objects.select_related("version")
            .prefetch_related("step_runs")
            .order_by("-started_at", "-id")
        )
        workflow = self.request.query_params.get("workflow")
        return runs.filter(workflow_id=int(workflow)) if workflow and workflow.isdigit() else runs

    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        try:
            run = services.retry_run(self.get_object().pk, user=_user(request))
        except services.WorkflowStateError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(RunSerializer(run).data)


class EventViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Emit an event from another system (``POST``), or read the log with each workflow's verdict."""

    serializer_class = EventSerializer
    permission_classes = [IsAuthenticated, _ReadOrManage]

    def get_queryset(self) -> QuerySet[Event]:
        events = Event.objects.prefetch_related("considerations").order_by("-occurred_at", "-id")
        name = self.request.query_params.get("name")
        return events.filter(name=name) if name else events

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        subject = (
            Subject(data["subject_type"], str(data.get("subject_id", "")), data.get("subject_label", ""))
            if data.get("subject_type")
            else None
        )
        serializer.instance = emit_event(
            data["name"],
            data.get("payload") or {},
            subject,
            source="api",
            idempotency_key=data.get("idempotency_key"),
        )


def register(router: DefaultRouter) -> None:
    router.register("workflows", WorkflowViewSet, basename="workflow")
    router.register("workflow-runs", RunViewSet, basename="workflow-run")
    router.register("workflow-events", EventViewSet, basename="workflow-event")
