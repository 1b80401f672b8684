from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from heedful.crm.models import Company, Contact, TimelineEntry
from heedful.crm.tests.factories import CompanyFactory, ContactFactory
from heedful.governance.models import AuditEvent

pytestmark = pytest.mark.django_db


def _payload(contact: Contact) -> dict:  # type: ignore[type-arg]
    return {
        "id": contact.pk,
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "phone": contact.phone,
        "company": contact.company_id,
        "company_name": contact.company_name,
        "postcode": contact.postcode,
        "attributes": contact.attributes,
        "tags": sorted(t.name for t in contact.tags.all()),
        "source": contact.source,
        "created_at": contact.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": contact.updated_at.isoformat().replace("+00:00", "Z"),
    }


def test_without_a_token_the_contacts_api_answers_401():
    response = APIClient().get("/api/v1/contacts/")

    assert response.status_code == 401


def test_an_employee_gets_403_for_reading_and_writing(api_client_for, employee):
    client = api_client_for(employee)

    assert client.get("/api/v1/contacts/").status_code == 403
    assert client.post("/api/v1/contacts/", {"email": "a@example.com"}, format="json").status_code == 403
    assert not Contact.objects.exists()


def test_an_agent_lists_contacts_filtered_by_words_and_tag(api_client_for, agent):
    ana = ContactFactory(first_name="Ana", last_name="Lopez", tags=["vip"])
    ContactFactory(first_name="Ana", last_name="Berg")

    response = api_client_for(agent).get("/api/v1/contacts/", {"q": "ana", "tag": "vip"})

    assert response.status_code == 200
    assert response.json() == {"count": 1, "next": None, "previous": None, "results": [_payload(ana)]}


def test_an_agent_creates_a_contact_through_the_service(api_client_for, agent):
    response = api_client_for(agent).post(
        "/api/v1/contacts/",
        {"email": "Ana@Example.com", "first_name": "Ana", "company_name": "ACME", "tags": ["vip"]},
        format="json",
    )

    assert response.status_code == 201
    contact = Contact.objects.get()
    assert response.json() == _payload(contact)
    assert (contact.email, contact.company_name, contact.source) == ("ana@example.com", "ACME", "api")
    assert AuditEvent.objects.get(action="contact.create").actor_user == agent


def test_creating_a_contact_with_a_taken_email_answers_400_and_changes_nothing(api_client_for, agent):
    ContactFactory(email="ana@example.com")

    response = api_client_for(agent).post("/api/v1/contacts/", {"email": "ANA@example.com"}, format="json")

    assert response.status_code == 400
    assert response.json() == {"email": ["Another contact already has the email ana@example.com."]}
    assert Contact.objects.count() == 1


def test_patch_changes_only_the_given_fields_put_is_not_offered_and_agents_cannot_erase(
    api_client_for, agent
):
    contact = ContactFactory(first_name="Ana", last_name="Lopez", tags=["vip"])
    client = api_client_for(agent)

    response = client.patch(f"/api/v1/contacts/{contact.pk}/", {"first_name": "Anna"}, format="json")

    assert response.status_code == 200
    contact.refresh_from_db()
    assert (contact.first_name, contact.last_name) == ("Anna", "Lopez")
    assert response.json()["tags"] == ["vip"]
    assert AuditEvent.objects.get(action="contact.update").changes == {"first_name": ["Ana", "Anna"]}
    assert client.put(f"/api/v1/contacts/{contact.pk}/", {}, format="json").status_code == 405
    assert client.delete(f"/api/v1/contacts/{contact.pk}/").status_code == 403  # erasure: test_erasure.py
    assert Contact.objects.filter(pk=contact.pk).exists()


def test_the_timeline_lists_newest_first_and_accepts_new_entries(api_client_for, agent):
    contact = ContactFactory()
    client = api_client_for(agent)

    created = client.post(
        f"/api/v1/contacts/{contact.pk}/timeline/",
        {"kind": "order", "title": "Order #1", "data": {"total": 10}, "occurred_at": "2025-03-01T09:00:00Z"},
        format="json",
    )
    listed = client.get(f"/api/v1/contacts/{contact.pk}/timeline/")

    assert created.status_code == 201
    entry = TimelineEntry.objects.get()
    expected = {
        "id": entry.pk,
        "occurred_at": "2025-03-01T09:00:00Z",
        "recorded_at": entry.recorded_at.isoformat().replace("+00:00", "Z"),
        "kind": "order",
        "title": "Order #1",
        "body": "",
        "data": {"total": 10},
        "source": "api",
        "actor_user": agent.pk,
        "actor_automation": "",
        "ref_type": "",
        "ref_id": "",
    }
    assert created.json() == expected
    assert listed.json() == {"count": 1, "next": None, "previous": None, "results": [expected]}


def test_a_timeline_entry_with_an_unknown_kind_answers_400(api_client_for, agent):
    contact = ContactFactory()

    response = api_client_for(agent).post(
        f"/api/v1/contacts/{contact.pk}/timeline/", {"kind": "gossip", "title": "x"}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {"kind": ['"gossip" is not a valid choice.']}
    assert not TimelineEntry.objects.exists()


def test_companies_are_listed_and_created(api_client_for, agent):
    CompanyFactory(name="ACME")
    client = api_client_for(agent)

    created = client.post("/api/v1/companies/", {"name": "Globex", "domain": "Globex.test"}, format="json")
    duplicate = client.post("/api/v1/companies/", {"name": "acme"}, format="json")

    assert created.status_code == 201
    assert created.json()["domain"] == "globex.test"
    assert duplicate.status_code == 400
    assert duplicate.json() == {"name": ["A company named acme exists already."]}
    assert list(Company.objects.values_list("name", flat=True)) == ["ACME", "Globex"]


def _csv(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("contacts.csv", text.encode(), content_type="text/csv")


def test_import_needs_the_import_permission(api_client_for, agent):
    response = api_client_for(agent).post(
        "/api/v1/contacts/import/", {"file": _csv("email\na@example.com\n")}
    )

    assert response.status_code == 403
    assert not Contact.objects.exists()


def test_import_returns_the_report(api_client_for, manager):
    response = api_client_for(manager).post(
        "/api/v1/contacts/import/", {"file": _csv("email\na@example.com\nbad\n"), "all_or_nothing": "false"}
    )

    assert response.status_code == 200
    assert response.json() == {
        "created": 1,
        "updated": 0,
        "rows": 2,
        "rejected": False,
        "file_error": "",
        "summary": "1 created, 0 updated, 1 rows skipped.",
        "errors": [{"line": 3, "column": "email", "message": "“bad” is not a valid email address."}],
    }


def test_a_rejected_import_answers_400_with_the_report(api_client_for, manager):
    response = api_client_for(manager).post(
        "/api/v1/contacts/import/", {"file": _csv("email\na@example.com\nbad\n"), "all_or_nothing": "true"}
    )

    assert response.status_code == 400
    assert response.json()["rejected"] is True
    assert response.json()["errors"] == [
        {"line": 3, "column": "email", "message": "“bad” is not a valid email address."}
    ]
    assert not Contact.objects.exists()


def test_the_openapi_schema_describes_the_contacts_api(owner_client):
    schema = json.loads(owner_client.get("/api/openapi.json", {"format": "json"}).content)

    paths = schema["paths"]
    assert set(paths["/api/v1/contacts/"]) == {"get", "post"}
    assert set(paths["/api/v1/contacts/{id}/"]) == {"get", "patch", "delete"}  # delete erases
    assert set(paths["/api/v1/contacts/{id}/timeline/"]) == {"get", "post"}
    assert set(paths["/api/v1/contacts/import/"]) == {"post"}
    assert [p["name"] for p in paths["/api/v1/contacts/"]["get"]["parameters"]] == [
        "limit",
        "offset",
        "q",
        "tag",
    ]
    assert "multipart/form-data" in paths["/api/v1/contacts/import/"]["post"]["requestBody"]["content"]
    assert set(paths["/api/v1/contacts/import/"]["post"]["responses"]) == {"200", "400", "401", "403", "413"}


def test_the_schema_at_openapi_json_is_json_without_a_format_parameter(owner_client):
    # Schema tools fetch the address as it is; it used to answer YAML unless asked for JSON.
    response = owner_client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.oai.openapi+json"
    assert json.loads(response.content)["openapi"] == "3.0.3"
    docs = owner_client.get("/api/docs/")
    assert docs.status_code == 200


@pytest.mark.parametrize("attributes", [None, 4.2, [["a", 1]], "plain text", True])
def test_attributes_that_are_not_a_json_object_are_refused_with_a_clear_error(
    api_client_for, owner, attributes
):
    # Found by schemathesis: each of these reached the services and failed with a 500.
    client = api_client_for(owner)
    contact = ContactFactory(attributes={"newsletter": "yes"})
    said = "This field may not be null." if attributes is None else None
    said = said or 'Must be a JSON object, for example {"newsletter": "yes"}.'
    error = {"attributes": [said]}
    for method, url, payload in [
        ("post", "/api/v1/contacts/", {"email": "new@example.com", "attributes": attributes}),
        ("patch", f"/api/v1/contacts/{contact.pk}/", {"attributes": attributes}),
        ("post", "/api/v1/companies/", {"name": "Acme", "attributes": attributes}),
    ]:
        response = getattr(client, method)(url, payload, format="json")
        assert (response.status_code, response.json()) == (400, error), (method, url)
    response = client.post(
        f"/api/v1/contacts/{contact.pk}/timeline/",
        {"kind": "note", "title": "Called", "data": attributes},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"data": [said]}
    assert Contact.objects.get(pk=contact.pk).attributes == {"newsletter": "yes"}
    assert not Company.objects.exists()


def test_pages_are_bounded_and_a_huge_offset_is_an_empty_page(api_client_for, owner):
    ContactFactory.create_batch(3)
    client = api_client_for(owner)
    huge = str(10**30)  # beyond SQLite's integers: the database refused it with a 500
    response = client.get("/api/v1/contacts/", {"limit": huge, "offset": huge})
    assert response.status_code == 200
    assert (response.json()["count"], response.json()["results"]) == (3, [])
    response = client.get("/api/v1/companies/", {"limit": huge})
    assert response.status_code == 200
    assert len(client.get("/api/v1/contacts/", {"limit": huge}).json()["results"]) == 3


def test_text_a_database_cannot_store_is_a_400_not_a_500(api_client_for, owner):
    # PostgreSQL refuses NUL and unpaired surrogates; found by schemathesis on a PostgreSQL server.
    client = api_client_for(owner)
    said = {"detail": "Text must not contain the NUL character (\\u0000) or unpaired surrogates."}
    for raw in (
        '{"email": "rosa@example.com", "first_name": "Ro\\ud800sa"}',
        '{"name": "Acme", "attributes": {"no\\u0000te": "x"}}',
    ):
        url = "/api/v1/contacts/" if "email" in raw else "/api/v1/companies/"
        response = client.post(url, raw, content_type="application/json")
        assert (response.status_code, response.json()) == (400, said), raw
    assert not Contact.objects.exists()
    assert not Company.objects.exists()


def test_the_schema_documents_the_errors_an_operation_can_answer(owner_client):
    schema = json.loads(owner_client.get("/api/openapi.json").content)
    detail = schema["paths"]["/api/v1/contacts/{id}/"]["get"]["responses"]
    assert sorted(detail) == ["200", "400", "401", "403", "404"]
    assert detail["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert detail["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/InvalidRequest"
    }
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]
    # A list has no id to miss.
    assert "404" not in schema["paths"]["/api/v1/contacts/"]["get"]["responses"]


def test_a_body_over_the_upload_limit_answers_a_json_413_and_creates_nothing(api_client_for, agent, settings):
    # Before: Django's HTML "Bad Request (400)" page, with no reason, from a JSON API.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5_000
    body = json.dumps({"email": "big@example.com", "attributes": {"notes": "n" * 10_000}})

    response = api_client_for(agent).post("/api/v1/contacts/", body, content_type="application/json")

    assert (response.status_code, response["Content-Type"]) == (413, "application/json")
    assert response.json() == {"detail": "The request body is over 5,000 bytes; send less at once."}
    assert not Contact.objects.exists()
