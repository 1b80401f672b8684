"""The contacts API under /api/v1/: contacts, their timeline, companies and CSV import.

Every write goes through ``heedful.crm.services``, so the API audits exactly like the pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from heedful.accounts.permissions import has_perm
from heedful.accounts.roles import Perm
from heedful.api_fields import OBJECT_JSON_MAPPING, JsonObjectField
from heedful.crm import import_jobs, queries, services
from heedful.crm.importing import MAX_IMPORT_BYTES
from heedful.crm.models import Company, Contact, ContactImport, TimelineEntry, TimelineKind


def _as_drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


@extend_schema_field({"type": "array", "items": {"type": "string", "maxLength": 50}})
class TagNamesField(serializers.ListField):
    """Tag names: written as a list of strings, read from the contact's tags."""

    child = serializers.CharField(max_length=50)

    def to_representation(self, data: Any) -> list[str]:
        return sorted(t.name for t in data.all())


class ContactSerializer(serializers.ModelSerializer[Contact]):
    company_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    tags = TagNamesField(required=False)
    attributes = JsonObjectField(required=False)

    class Meta:
        model = Contact
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "phone",
            "company",
            "company_name",
            "postcode",
            "attributes",
            "tags",
            "source",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["company", "source", "created_at", "updated_at"]

    def create(self, validated_data: dict[str, Any]) -> Contact:
        try:
            return services.create_contact(user=self.context["request"].user, source="api", **validated_data)
        except DjangoValidationError as exc:
            raise _as_drf_error(exc) from None

    def update(self, instance: Contact, validated_data: dict[str, Any]) -> Contact:
        try:
            return services.update_contact(instance, user=self.context["request"].user, **validated_data)
        except DjangoValidationError as exc:
            raise _as_drf_error(exc) from None


class TimelineEntrySerializer(serializers.ModelSerializer[TimelineEntry]):
    kind = serializers.ChoiceField(choices=TimelineKind.choices)
    ref_id = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    # Not a declared field named "data": that is the serializer's own property.
    serializer_field_mapping = OBJECT_JSON_MAPPING

    class Meta:
        model = TimelineEntry
        fields = [
            "id",
            "occurred_at",
            "recorded_at",
            "kind",
            "title",
            "body",
            "data",
            "source",
            "actor_user",
            "actor_automation",
            "ref_type",
            "ref_id",
        ]
        read_only_fields = ["recorded_at", "actor_user", "actor_automation"]
        extra_kwargs = {"occurred_at": {"required": False}, "source": {"default": "api"}}

    def create(self, validated_data: dict[str, Any]) -> TimelineEntry:
        try:
            return services.add_timeline_entry(
                contact=self.context["contact"], user=self.context["request"].user, **validated_data
            )
        except DjangoValidationError as exc:
            raise _as_drf_error(exc) from None


class CompanySerializer(serializers.ModelSerializer[Company]):
    attributes = JsonObjectField(required=False)

    class Meta:
        model = Company
        fields = ["id", "name", "domain", "attributes", "created_at"]
        read_only_fields = ["created_at"]
        # Uniqueness (case-insensitive) is the service's to check, with a clear message.
        validators: list[Any] = []

    def create(self, validated_data: dict[str, Any]) -> Company:
        try:
            return services.create_company(user=self.context["request"].user, **validated_data)
        except DjangoValidationError as exc:
            raise _as_drf_error(exc) from None


class ImportRequestSerializer(serializers.Serializer[None]):
    file = serializers.FileField()
    all_or_nothing = serializers.BooleanField(
        default=True, help_text="True: a file with any bad row imports nothing. False: import the good rows."
    )


class RowErrorSerializer(serializers.Serializer[None]):
    line = serializers.IntegerField(help_text="Line in the file; the header is line 1.")
    column = serializers.CharField(help_text="Empty when the whole line is wrong.")
    message = serializers.CharField()


class ImportReportSerializer(serializers.Serializer[None]):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    rows = serializers.IntegerField(help_text="Data rows read, header excluded.")
    rejected = serializers.BooleanField(help_text="True when nothing was written.")
    file_error = serializers.CharField(help_text="A problem with the whole file, or empty.")
    summary = serializers.CharField()
    # Only describes the payload; the metaclass takes declared fields off the class, so the
    # serializer's own .errors property is untouched.
    errors = RowErrorSerializer(many=True)  # type: ignore[assignment]


class ErasureReportSerializer(serializers.Serializer[None]):
    contact = serializers.IntegerField(help_text="The erased contact's former id.")
    total = serializers.IntegerField()
    rows = serializers.DictField(
        child=serializers.IntegerField(),
        help_text='Records removed or anonymised per kind, e.g. {"inbox.conversations": 3}.',
    )


def _role_permissions(read: Perm, write: Perm, request: Request) -> list[BasePermission]:
    perm = read if request.method in SAFE_METHODS else write
    return [IsAuthenticated(), has_perm(perm)()]


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "q", OpenApiTypes.STR, description="Words to find in name, email, phone, company…"
            ),
            OpenApiParameter("tag", OpenApiTypes.STR, description="Only contacts with this tag."),
        ]
    )
)
class ContactViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Contact],
):
    serializer_class = ContactSerializer
    # No PUT (a partial update says what changes). DELETE erases the person everywhere.
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_permissions(self) -> Sequence[BasePermission]:
        if self.action == "import_csv":
            return [IsAuthenticated(), has_perm(Perm.IMPORT_CONTACTS)()]
        if self.action == "destroy":
            return [IsAuthenticated(), has_perm(Perm.ERASE_CONTACTS)()]
        return _role_permissions(Perm.VIEW_CONTACTS, Perm.EDIT_CONTACTS, self.request)

    def get_queryset(self) -> QuerySet[Contact]:
        if self.action == "list":
            params = self.request.query_params
            return queries.search_contacts(params.get("q", ""), tag=params.get("tag") or None)
        return Contact.objects.select_related("company").prefetch_related("tags")

    @extend_schema(methods=["GET"], responses=TimelineEntrySerializer(many=True))
    @extend_schema(
        methods=["POST"], request=TimelineEntrySerializer, responses={201: TimelineEntrySerializer}
    )
    @action(detail=True, methods=["get", "post"], serializer_class=TimelineEntrySerializer)
    def timeline(self, request: Request, pk: str | None = None) -> Response:
        contact = self.get_object()
        if request.method == "POST":
            serializer = TimelineEntrySerializer(
                data=request.data, context={"request": request, "contact": contact}
            )
            serializer.is_valid(raise_exception=True)
            serializer.save()
            return Response(serializer.data, status=status.HTTP_201_CREATED)
        # The view is typed for contacts; the paginator takes any queryset.
        page = cast("list[TimelineEntry]", self.paginate_queryset(cast(Any, queries.timeline_for(contact))))
        return self.get_paginated_response(TimelineEntrySerializer(page, many=True).data)

    @extend_schema(
        responses={200: ErasureReportSerializer},
        description=(
            "Erase the contact and everything held about them (conversations, also those matched "
            "only by email address, orders, chat visitors…). Cannot be undone. The answer counts "
            "the records removed or anonymised; the audit log keeps the same counts."
        ),
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        report = services.erase_contact(
            contact=self.get_object(),
            user=request.user,  # type: ignore[arg-type]  # IsAuthenticated ran first
        )
        return Response({"contact": report.contact_id, "total": report.total, "rows": report.rows})

    @extend_schema(
        request={"multipart/form-data": ImportRequestSerializer},
        responses={200: ImportReportSerializer, 400: ImportReportSerializer},
        description="Upsert contacts by email from a CSV file; 400 with the report if nothing was imported.",
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser, FormParser])
    def import_csv(self, request: Request) -> Response:
        form = ImportRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        report = services.import_contacts_csv(
            file=form.validated_data["file"],
            user=request.user,  # type: ignore[arg-type]  # IsAuthenticated ran first
            all_or_nothing=form.validated_data["all_or_nothing"],
        )
        return Response(
            report.as_dict(), status=status.HTTP_400_BAD_REQUEST if report.rejected else status.HTTP_200_OK
        )


class CompanyViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet[Company]):
    serializer_class = CompanySerializer
    queryset = Company.objects.all()

    def get_permissions(self) -> Sequence[BasePermission]:
        return _role_permissions(Perm.VIEW_CONTACTS, Perm.EDIT_CONTACTS, self.request)


class ContactImportSerializer(serializers.ModelSerializer[ContactImport]):
    report = serializers.SerializerMethodField(help_text="The import's report once it is done; null before.")

    class Meta:
        model = ContactImport
        fields = [
            "id",
            "filename",
            "all_or_nothing",
            "status",
            "created_at",
            "started_at",
            "finished_at",
            "report",
            "error",
        ]
        read_only_fields = fields

    @extend_schema_field(ImportReportSerializer(allow_null=True))
    def get_report(self, instance: ContactImport) -> dict[str, Any] | None:
        return instance.report or None


@extend_schema_view(
    create=extend_schema(
        request={"multipart/form-data": ImportRequestSerializer},
        responses={202: ContactImportSerializer},
        description=(
            "Queue a CSV file for import in the background and answer at once (202); poll the "
            "returned import until its status is done or failed. For files too big to import "
            "within one request (up to 50,000 rows, 10 MB); POST /contacts/import/ answers with "
            "the report in the same request."
        ),
    ),
)
class ContactImportViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[ContactImport],
):
    """Background contact imports, newest first; reports are kept for a week."""

    serializer_class = ContactImportSerializer
    permission_classes = [IsAuthenticated, has_perm(Perm.IMPORT_CONTACTS)]
    parser_classes = [MultiPartParser, FormParser]
    queryset = ContactImport.objects.defer("content")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        form = ImportRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise serializers.ValidationError(
                {"file": ["The file is larger than 10 MB. Split it into smaller files."]}
            )
        job = import_jobs.queue_contact_import(
            file=upload,
            user=request.user,  # type: ignore[arg-type]  # IsAuthenticated ran first
            all_or_nothing=form.validated_data["all_or_nothing"],
        )
        return Response(ContactImportSerializer(job).data, status=status.HTTP_202_ACCEPTED)


def register(router: DefaultRouter) -> None:
    router.register("contacts", ContactViewSet, basename="contact")
    router.register("companies", CompanyViewSet, basename="company")
    router.register("contact-imports", ContactImportViewSet, basename="contact-import")
