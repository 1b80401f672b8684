"""People API: leave requests (scoped like the pages) and one's own balances."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from heedful.people import queries, services
from heedful.people.models import LeaveRequest, LeaveType


class LeaveRequestSerializer(serializers.ModelSerializer[LeaveRequest]):
    employee: serializers.StringRelatedField[LeaveRequest] = serializers.StringRelatedField()
    leave_type = serializers.PrimaryKeyRelatedField(queryset=LeaveType.objects.filter(is_active=True))

    class Meta:
        model = LeaveRequest
        fields = [
            "id",
            "employee",
            "leave_type",
            "start_date",
            "end_date",
            "start_half",
            "end_half",
            "days",
            "days_by_year",
            "note",
            "status",
            "current_step",
            "created_at",
            "decided_at",
        ]
        read_only_fields = ["days", "days_by_year", "status", "current_step", "created_at", "decided_at"]


# Named apart from governance's DecisionSerializer: the schema had one "Decision" for both.
class LeaveDecisionSerializer(serializers.Serializer[Any]):
    approve = serializers.BooleanField()
    comment = serializers.CharField(required=False, allow_blank=True, max_length=300)


class BalanceSerializer(serializers.Serializer[Any]):
    leave_type = serializers.CharField()
    year = serializers.IntegerField()
    carried_over = serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=True)
    accrued = serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=True)
    used = serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=True)
    available = serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=True)
    pending = serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=True)


class LeaveRequestViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[LeaveRequest],
):
    """Your own leave, your teams' leave (managers), everyone's (HR), and what awaits your decision."""

    serializer_class = LeaveRequestSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self) -> QuerySet[LeaveRequest]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return LeaveRequest.objects.none()
        user = self.request.user
        visible = queries.visible_employees(user)  # type: ignore[arg-type]
        awaiting = [r.pk for r in queries.awaiting_decision_by(user)]  # type: ignore[arg-type]
        return (
            LeaveRequest.objects.filter(Q(employee__in=visible) | Q(pk__in=awaiting))
            .select_related("employee", "leave_type")
            .order_by("-start_date", "-pk")
        )

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = page if page is not None else list(queryset)
        services.audit_hr_list_read(
            user=request.user,  # type: ignore[arg-type]
            what="leave requests through the API",
            employee_ids=[leave.employee_id for leave in rows],
        )
        data = self.get_serializer(rows, many=True).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        leave = self.get_object()
        services.audit_hr_read(user=request.user, employee=leave.employee, what=f"leave request #{leave.pk}")  # type: ignore[arg-type]
        return Response(self.get_serializer(leave).data)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        employee = queries.employee_of(request.user)  # type: ignore[arg-type]
        if employee is None:
            raise NotFound("Your account is not linked to an employee record.")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            leave = services.request_leave(employee=employee, user=request.user, **serializer.validated_data)  # type: ignore[arg-type]
        except services.LeaveError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(self.get_serializer(leave).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=LeaveDecisionSerializer, responses=LeaveRequestSerializer)
    @action(detail=True, methods=["post"], serializer_class=LeaveDecisionSerializer)
    def decide(self, request: Request, pk: str) -> Response:
        data = LeaveDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            leave = services.decide_leave(
                request=self.get_object(),
                user=request.user,  # type: ignore[arg-type]
                via="ui",
                **data.validated_data,
            )
        except services.LeaveError as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(LeaveRequestSerializer(leave).data)

    @extend_schema(request=None, responses=LeaveRequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        try:
            leave = services.cancel_leave(request=self.get_object(), user=request.user)  # type: ignore[arg-type]
        except services.LeaveError as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(LeaveRequestSerializer(leave).data)


class BalanceViewSet(viewsets.ViewSet):
    """Your own balances for this year, per leave type."""

    permission_classes = [IsAuthenticated]
    serializer_class = BalanceSerializer

    @extend_schema(responses=BalanceSerializer(many=True))
    def list(self, request: Request) -> Response:
        employee = queries.employee_of(request.user)  # type: ignore[arg-type]
        if employee is None:
            return Response([])
        return Response(
            [
                {
                    "leave_type": row.leave_type.name,
                    "year": row.balance.year,
                    "carried_over": str(row.balance.carried_over),
                    "accrued": str(row.balance.accrued),
                    "used": str(row.balance.used),
                    "available": str(row.balance.available),
                    "pending": str(row.pending),
                }
                for row in queries.balances_of(employee, timezone.localdate())
            ]
        )


def register(router: DefaultRouter) -> None:
    router.register("leave-requests", LeaveRequestViewSet, basename="leave-request")
    router.register("leave-balances", BalanceViewSet, basename="leave-balance")
