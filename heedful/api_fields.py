"""What every app's REST API shares: the JSON parser and fields that refuse text a database
cannot store, a JSON-object field, the pagination, and the exception handler."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from heedful.storable import unstorable_text

UNSTORABLE = "Text must not contain the NUL character (\\u0000) or unpaired surrogates."


class StorableJSONParser(JSONParser):
    """DRF's JSON parser, refusing a body with text the database cannot store (a 400 for any
    field, where a character field with an unpaired surrogate reached PostgreSQL and failed)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        if unstorable_text(data) is not None:
            raise ParseError(UNSTORABLE)
        return data


class StorableJsonField(serializers.JSONField):
    """Any JSON whose strings a database can store (see :func:`unstorable_text`)."""

    default_error_messages = {"unstorable": UNSTORABLE}

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if unstorable_text(value) is not None:
            self.fail("unstorable")
        return value


@extend_schema_field(OpenApiTypes.OBJECT)
class JsonObjectField(StorableJsonField):
    """A JSON object (``{"newsletter": "yes"}``), refused with a clear error when it is anything
    else: a list, a number or null used to reach the services, which failed with a 500."""

    # Doubled braces: DRF formats its messages.
    default_error_messages = {"not_object": 'Must be a JSON object, for example {{"newsletter": "yes"}}.'}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("not_object")
        return value


# A ModelSerializer's field classes with every model JSONField as a JsonObjectField.
OBJECT_JSON_MAPPING = serializers.ModelSerializer.serializer_field_mapping | {
    models.JSONField: JsonObjectField
}


class Pagination(LimitOffsetPagination):
    """DRF's limit and offset, bounded: at most 500 rows a page, and an offset past any table is
    an empty page. Unbounded, a limit or offset beyond 2**63 failed in the database (SQLite's
    integers end there) with a 500."""

    max_limit = 500
    max_offset = 10**12

    def get_offset(self, request: Request) -> int:
        return min(super().get_offset(request), self.max_offset)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus a JSON 413 for a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``.

    DRF (3.17.2 on) reads JSON bodies through ``request.body``, so Django's size limit applies,
    but its ``RequestDataTooBig`` is a SuspiciousOperation that DRF leaves alone: the client got
    Django's HTML "Bad Request (400)" page, with no reason, from a JSON API."""
    # Imported here: rest_framework.views reads the API settings, which name this module's classes.
    from rest_framework.views import exception_handler

    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        detail = f"The request body is over {limit:,} bytes; send less at once."
        return Response({"detail": detail}, status=413)
    return exception_handler(exc, context)


# What every operation can answer besides its own result, for clients generated from the schema.
_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "description": "Why the request was not carried out, in plain words.",
}
_INVALID = {
    "oneOf": [
        {"type": "object", "additionalProperties": True},
        {"type": "array", "items": {"type": "string"}},
    ],
    "description": "What is wrong with the request: for each field its messages, or `detail`; "
    "a list of messages when no field is to blame.",
}
_METHODS = ("get", "post", "put", "patch", "delete")
_WITH_BODY = ("post", "put", "patch")


def document_error_responses(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """A drf-spectacular postprocessing hook: the 400, 401, 403 and 404 answers each operation
    can give, which the generated schema left out (schemathesis counted 55 undocumented codes)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", _ERROR)
    schemas.setdefault("InvalidRequest", _INVALID)

    def answer(ref: str, description: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
        }

    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            responses.setdefault("400", answer("InvalidRequest", "The request is invalid or unreadable."))
            if method in _WITH_BODY:
                too_big = answer("Error", "The request body is larger than the server takes.")
                responses.setdefault("413", too_big)
            if operation.get("security") != [{}]:
                responses.setdefault("401", answer("Error", "No valid API token (Authorization: Bearer …)."))
                responses.setdefault("403", answer("Error", "This user's role may not do this."))
            if "{" in path:
                responses.setdefault("404", answer("Error", "No such object, or not one this user may see."))
    return result
