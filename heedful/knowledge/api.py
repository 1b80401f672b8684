"""The knowledge API under /api/v1/knowledge/: FAQ entries and the questions the knowledge base
does not cover. Everyone who works the inbox reads them (``WORK_INBOX``); writing changes what
the bot says, so it needs ``MANAGE_KNOWLEDGE``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from heedful.accounts.roles import Perm
from heedful.knowledge import services
from heedful.knowledge.models import FaqEntry, UncoveredQuestion


class FaqEntrySerializer(serializers.ModelSerializer[FaqEntry]):
    variants = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, default=list
    )

    class Meta:
        model = FaqEntry
        fields = [
            "id",
            "question",
            "variants",
            "answer",
            "article_url",
            "is_active",
            "helpful_count",
            "unhelpful_count",
            "answered_by_hand_count",
        ]
        read_only_fields = ["is_active", "helpful_count", "unhelpful_count", "answered_by_hand_count"]

    def to_representation(self, instance: FaqEntry) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["variants"] = [v for v in instance.variants.splitlines() if v.strip()]
        return data


class ReadInboxWriteKnowledge(BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return bool(user.can(Perm.WORK_INBOX if request.method in SAFE_METHODS else Perm.MANAGE_KNOWLEDGE))


class FaqEntryViewSet(
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.ReadOnlyModelViewSet[FaqEntry],
):
    """FAQ entries; POST adds one, PATCH changes one, DELETE removes one (the matcher retrains
    after each commit, and never answers from an entry that changed or went)."""

    queryset = FaqEntry.objects.order_by("question")
    serializer_class = FaqEntrySerializer
    permission_classes = [ReadInboxWriteKnowledge]
    # No PUT: a PATCH says what changes.
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_update(self, serializer: serializers.BaseSerializer[FaqEntry]) -> None:
        values = serializer.validated_data
        serializer.instance = services.update_faq_entry(
            entry=self.get_object(),
            question=values.get("question"),
            answer=values.get("answer"),
            variants=values.get("variants") if "variants" in self.request.data else None,
            article_url=values.get("article_url"),
            user=self.request.user,  # type: ignore[arg-type]
        )

    def perform_destroy(self, instance: FaqEntry) -> None:
        services.delete_faq_entry(entry=instance, user=self.request.user)  # type: ignore[arg-type]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        entry = services.create_faq_entry(
            question=values["question"],
            answer=values["answer"],
            variants=values.get("variants", []),
            article_url=values.get("article_url", ""),
            user=request.user,  # type: ignore[arg-type]
        )
        return Response(self.get_serializer(entry).data, status=status.HTTP_201_CREATED)


class UncoveredQuestionSerializer(serializers.ModelSerializer[UncoveredQuestion]):
    added_by = serializers.EmailField(source="added_by.email", read_only=True, allow_null=True, default=None)

    class Meta:
        model = UncoveredQuestion
        fields = ["id", "text", "added_by", "added_at", "wrongly_answered_with"]
        read_only_fields = ["added_at"]
        extra_kwargs = {"wrongly_answered_with": {"required": False, "allow_null": True}}


class UncoveredQuestionViewSet(
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.ReadOnlyModelViewSet[UncoveredQuestion],
):
    """Questions the knowledge base does not cover: the bot trains on them as questions to hand
    to a person. POST adds one (the same words again return the one there, 200), DELETE takes
    one off; the matcher retrains after each commit."""

    queryset = UncoveredQuestion.objects.select_related("added_by").order_by("-added_at", "-id")
    serializer_class = UncoveredQuestionSerializer
    permission_classes = [ReadInboxWriteKnowledge]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        before = UncoveredQuestion.objects.count()
        entry = values.get("wrongly_answered_with")
        try:
            question = services.mark_not_covered(
                text=values["text"],
                user=request.user,  # type: ignore[arg-type]
                wrongly_answered_with=entry.pk if entry else None,
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"text": exc.messages}) from exc
        added = UncoveredQuestion.objects.count() > before
        return Response(
            self.get_serializer(question).data,
            status=status.HTTP_201_CREATED if added else status.HTTP_200_OK,
        )

    def perform_destroy(self, instance: UncoveredQuestion) -> None:
        services.forget_not_covered(question=instance, user=self.request.user)  # type: ignore[arg-type]


def register(router: DefaultRouter) -> None:
    router.register("knowledge/faq-entries", FaqEntryViewSet, basename="knowledge-faq")
    router.register("knowledge/not-covered", UncoveredQuestionViewSet, basename="knowledge-not-covered")
