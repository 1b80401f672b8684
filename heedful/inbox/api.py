"""The inbox API under /api/v1/inbox/: conversations, the API as a customer channel, orders and
products for shop systems. Every write goes through the inbox's services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from heedful.accounts.permissions import has_perm
from heedful.accounts.roles import Perm
from heedful.inbox import canned, queries, services, shop
from heedful.inbox.models import (
    CannedResponse,
    Channel,
    Conversation,
    Direction,
    Message,
    Order,
    Product,
    Status,
)


class MessageSerializer(serializers.ModelSerializer[Message]):
    class Meta:
        model = Message
        fields = ["id", "direction", "author_kind", "body", "created_at", "delivery", "intent", "sentiment"]


class ConversationSerializer(serializers.ModelSerializer[Conversation]):
    sla_warnings = serializers.SerializerMethodField(help_text="Breached SLA timers in words.")

    class Meta:
        model = Conversation
        fields = [
            "id",
            "channel",
            "status",
            "customer_email",
            "customer_name",
            "subject",
            "assignee",
            "tags",
            "priority",
            "priority_reason",
            "first_response_due_at",
            "resolution_due_at",
            "sla_warnings",
            "created_at",
        ]

    def get_sla_warnings(self, conversation: Conversation) -> list[str]:
        return conversation.sla_warnings()


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=Status.values, description="Only this status."),
            OpenApiParameter(
                "q",
                OpenApiTypes.STR,
                description="Words to find, each in the customer's name or email, the subject, a tag "
                "or a message; #42 finds conversation 42.",
            ),
        ]
    )
)
class ConversationViewSet(viewsets.ReadOnlyModelViewSet[Conversation]):
    """Conversations, highest priority first; ``?status=open`` and ``?q=`` filter."""

    serializer_class = ConversationSerializer
    permission_classes = [has_perm(Perm.WORK_INBOX)]

    def get_queryset(self) -> QuerySet[Conversation]:
        rows = Conversation.objects.order_by("-priority", "created_at", "id")
        wanted = self.request.query_params.get("status")
        if wanted:
            rows = rows.filter(status=wanted)
        return queries.search_conversations(rows, self.request.query_params.get("q", "")[:200])


class IncomingMessageSerializer(serializers.Serializer[dict[str, Any]]):
    email = serializers.EmailField()
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    subject = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    text = serializers.CharField(max_length=20000)
    conversation = serializers.IntegerField(required=False, allow_null=True, default=None)


class IncomingMessageViewSet(viewsets.GenericViewSet[Any], mixins.CreateModelMixin):
    """The API as a customer channel (a form on another system, an app): the bot answers or hands
    off exactly as in chat; the response lists what the customer may see."""

    serializer_class = IncomingMessageSerializer
    permission_classes = [has_perm(Perm.WORK_INBOX)]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = IncomingMessageSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        services.ready_the_bot()
        conversation = Conversation.objects.filter(
            pk=values["conversation"], channel=Channel.API, customer_email=values["email"].lower()
        ).first()
        if conversation is None:
            conversation = services.start_conversation(
                channel=Channel.API,
                customer_email=values["email"],
                customer_name=values["name"],
                subject=values["subject"],
            )
        message = services.receive_customer_message(conversation=conversation, body=values["text"])
        visible = conversation.messages.filter(pk__gte=message.pk).exclude(direction=Direction.INTERNAL)
        return Response(
            {"conversation": conversation.pk, "messages": MessageSerializer(visible, many=True).data},
            status=status.HTTP_201_CREATED,
        )


class OrderSerializer(serializers.ModelSerializer[Order]):
    class Meta:
        model = Order
        fields = [
            "number",
            "customer_email",
            "customer_name",
            "postcode",
            "status",
            "carrier",
            "tracking_url",
            "expected_delivery",
            "total",
            "placed_at",
        ]
        extra_kwargs: dict[str, Any] = {"number": {"validators": []}}


class ProductSerializer(serializers.ModelSerializer[Product]):
    class Meta:
        model = Product
        fields = ["sku", "name", "stock", "restock_date"]
        extra_kwargs: dict[str, Any] = {"sku": {"validators": []}}


class _UpsertViewSet(viewsets.ReadOnlyModelViewSet[Any], mixins.CreateModelMixin):
    """POST creates or updates by the natural key; order status changes tell the customer."""

    permission_classes = [has_perm(Perm.IMPORT_CONTACTS)]
    kind = "order"

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upsert = shop.upsert_order if self.kind == "order" else shop.upsert_product
        try:
            obj, created = upsert(dict(request.data), source=f"api:{request.user}")
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return Response(
            self.get_serializer(obj).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class OrderViewSet(_UpsertViewSet):
    queryset = Order.objects.all()
    serializer_class = OrderSerializer
    lookup_field = "number"


class ProductViewSet(_UpsertViewSet):
    queryset = Product.objects.all()
    serializer_class = ProductSerializer
    lookup_field = "sku"
    kind = "product"


class CsatRowSerializer(serializers.Serializer[Any]):
    agent = serializers.IntegerField(allow_null=True)
    agent_name = serializers.CharField()
    sent = serializers.IntegerField()
    answered = serializers.IntegerField()
    average = serializers.FloatField(allow_null=True)
    satisfied_share = serializers.FloatField(allow_null=True)
    response_rate = serializers.FloatField(allow_null=True)


class CsatResultsSerializer(serializers.Serializer[Any]):
    days = serializers.IntegerField()
    agents = CsatRowSerializer(many=True)
    overall = CsatRowSerializer(allow_null=True)


class _OneObjectSchema(AutoSchema):
    """The schema of a ``list`` action that answers one object: drf-spectacular takes every
    ``list`` for an array (this one was documented as a page of rows)."""

    def _is_list_view(self, serializer: Any = None) -> bool:
        return False


class CsatResultsViewSet(viewsets.GenericViewSet[Any]):
    """CSAT results for the last ``?days=30`` (or 90, …; 1–366) days: per agent and overall.

    An agent gets only their own row and ``overall: null``; managers and the owner get all.
    """

    serializer_class = CsatResultsSerializer
    permission_classes = [has_perm(Perm.WORK_INBOX)]
    pagination_class = None  # one object, not a page of rows
    schema = _OneObjectSchema()

    def list(self, request: Request) -> Response:
        try:
            days = int(request.query_params.get("days", "30"))
        except ValueError:
            days = 0
        if not 1 <= days <= 366:
            raise serializers.ValidationError({"days": "A whole number of days from 1 to 366."})
        rows, overall = queries.csat_results(user=request.user, days=days)  # type: ignore[arg-type]
        return Response(
            {
                "days": days,
                "agents": [row.as_dict() for row in rows],
                "overall": overall.as_dict() if overall else None,
            }
        )


class CannedResponseSerializer(serializers.ModelSerializer[CannedResponse]):
    shortcut = serializers.SlugField(max_length=40, required=False, allow_blank=True, allow_null=True)

    class Meta:
        model = CannedResponse
        fields = ["id", "title", "shortcut", "body", "updated_at"]
        read_only_fields = ["updated_at"]
        extra_kwargs: dict[str, Any] = {"shortcut": {"validators": []}}


class CannedRenderSerializer(serializers.Serializer[Any]):
    conversation = serializers.IntegerField(required=False, allow_null=True, default=None)


class _ReadInboxWriteKnowledge(BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        is_read = request.method in SAFE_METHODS or getattr(view, "action", "") == "render_for"
        return bool(user.can(Perm.WORK_INBOX if is_read else Perm.MANAGE_KNOWLEDGE))


class CannedResponseViewSet(viewsets.ModelViewSet[CannedResponse]):
    """Canned responses: everyone in the inbox reads them (``?shortcut=refund`` finds one),
    owner and managers write them. ``POST …/{id}/render/`` fills the tokens for a conversation."""

    serializer_class = CannedResponseSerializer
    permission_classes = [_ReadInboxWriteKnowledge]

    def get_queryset(self) -> QuerySet[CannedResponse]:
        rows = CannedResponse.objects.all()
        shortcut = self.request.query_params.get("shortcut")
        return rows.filter(shortcut=shortcut.lower()) if shortcut else rows

    def _save(self, request: Request, instance: CannedResponse | None) -> Response:
        data = self.get_serializer(instance, data=request.data, partial=instance is not None)
        data.is_valid(raise_exception=True)
        values = {
            "title": data.validated_data.get("title", instance.title if instance else ""),
            "shortcut": data.validated_data.get("shortcut", instance.shortcut if instance else "") or "",
            "body": data.validated_data.get("body", instance.body if instance else ""),
        }
        try:
            if instance is None:
                saved = canned.create_canned_response(user=request.user, **values)  # type: ignore[arg-type]
            else:
                saved = canned.update_canned_response(canned=instance, user=request.user, **values)  # type: ignore[arg-type]
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return Response(
            self.get_serializer(saved).data,
            status=status.HTTP_200_OK if instance else status.HTTP_201_CREATED,
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._save(request, None)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._save(request, self.get_object())

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        canned.delete_canned_response(canned=self.get_object(), user=request.user)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"], url_path="render", serializer_class=CannedRenderSerializer)
    def render_for(self, request: Request, pk: str | None = None) -> Response:
        response = self.get_object()
        data = CannedRenderSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = None
        if data.validated_data["conversation"] is not None:
            conversation = Conversation.objects.filter(pk=data.validated_data["conversation"]).first()
            if conversation is None:
                raise serializers.ValidationError({"conversation": "No such conversation."})
        text = canned.render_canned(response.body, conversation=conversation, agent=request.user)  # type: ignore[arg-type]
        return Response({"text": text})


def register(router: DefaultRouter) -> None:
    router.register("inbox/conversations", ConversationViewSet, basename="inbox-conversation")
    router.register("inbox/messages", IncomingMessageViewSet, basename="inbox-message")
    router.register("inbox/canned-responses", CannedResponseViewSet, basename="inbox-canned")
    router.register("inbox/csat", CsatResultsViewSet, basename="inbox-csat")
    router.register("inbox/orders", OrderViewSet, basename="inbox-order")
    router.register("inbox/products", ProductViewSet, basename="inbox-product")
