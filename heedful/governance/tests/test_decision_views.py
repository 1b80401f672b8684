"""Decision records: the list filtered by subject and actor, and the explained detail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from heedful.accounts.models import User
from heedful.governance.models import AuditEvent, ProposedAction
from heedful.governance.tests.factories import DecisionRecordFactory

pytestmark = pytest.mark.django_db

LIST = "/trust/decisions/"


def test_the_url_names_are_the_ones_the_layout_links_to() -> None:
    assert reverse("governance:decision-list") == LIST
    assert reverse("governance:decision-detail", args=[4]) == "/trust/decisions/4/"
    assert reverse("governance:audit-list") == "/trust/audit/"


def test_the_list_filters_by_subject_and_by_actor(manager_client: Client) -> None:
    noor = DecisionRecordFactory(subject_type="contact", subject_id="7", actor_name="triage")
    noor_faq = DecisionRecordFactory(subject_type="contact", subject_id="7", actor_name="faq-matcher")
    DecisionRecordFactory(subject_type="contact", subject_id="8", actor_name="triage")
    DecisionRecordFactory(subject_type="employee", subject_id="7", actor_name="triage")

    by_subject = manager_client.get(LIST, {"subject_type": "contact", "subject_id": "7"})
    by_both = manager_client.get(LIST, {"subject_type": "contact", "subject_id": "7", "actor": "triage"})

    assert [d.pk for d in by_subject.context["page"]] == [noor_faq.pk, noor.pk]
    assert [d.pk for d in by_both.context["page"]] == [noor.pk]
    assert "1 decision" in by_both.content.decode()


@pytest.mark.parametrize("client_name", ["agent_client", "employee_client"])
def test_staff_without_the_right_see_no_decisions(client_name: str, request: pytest.FixtureRequest) -> None:
    client: Client = request.getfixturevalue(client_name)
    decision = DecisionRecordFactory()

    assert client.get(LIST).status_code == 403
    assert client.get(f"/trust/decisions/{decision.pk}/").status_code == 403


def test_the_detail_explains_the_decision_in_plain_words(
    manager_client: Client, propose: Callable[..., ProposedAction]
) -> None:
    decision = DecisionRecordFactory(subject_id="7", subject_label="Noor Okafor")
    proposal = propose(decision=decision)

    response = manager_client.get(f"/trust/decisions/{decision.pk}/")

    assert response.status_code == 200
    assert [(f.text, f.weight, f.magnitude) for f in response.context["factors"]] == [
        ('negative wording ("still", "refund")', 0.4, 100),
        ("waited 26 h without a reply", 0.25, 62),
        ("a long-time customer", -0.1, 25),
    ]
    html = response.content.decode()
    assert "<h1>Upset customer: needs a person today</h1>" in html
    assert "<strong>triage</strong>, version 3" in html
    assert '<meter min="0" max="100" value="62" aria-hidden="true"></meter>' in html
    assert "+0.25" in html
    assert "-0.10" in html
    assert '<th scope="row">waited_hours</th><td>26</td>' in html
    assert "82 %" in html
    assert f"Waiting for approval (#{proposal.pk})" in html
    assert f'id="proposal-{proposal.pk}"' in html
    assert "Write a test note: Write the note “Call Noor back”" in html
    assert 'href="/trust/decisions/?subject_type=contact&amp;subject_id=7"' in html


def test_opening_a_decision_about_an_employee_is_audited_and_about_a_contact_is_not(
    manager_client: Client, manager: User
) -> None:
    about_eli = DecisionRecordFactory(subject_type="employee", subject_id="12", subject_label="Eli Brandt")
    about_noor = DecisionRecordFactory(subject_type="contact")
    reads_before = AuditEvent.objects.filter(action="decision.read").count()

    manager_client.get(f"/trust/decisions/{about_noor.pk}/")
    manager_client.get(LIST, {"subject_type": "employee"})
    manager_client.get(f"/trust/decisions/{about_eli.pk}/")

    reads = AuditEvent.objects.filter(action="decision.read")
    assert reads_before == 0
    assert list(reads.values_list("actor_user", "object_id", "ip_address")) == [
        (manager.pk, str(about_eli.pk), "127.0.0.1")
    ]


def test_an_unknown_decision_is_not_found(manager_client: Client) -> None:
    assert manager_client.get("/trust/decisions/999/").status_code == 404


def test_an_htmx_filter_returns_the_content_without_the_layout(manager_client: Client) -> None:
    DecisionRecordFactory()

    html = manager_client.get(LIST, {"actor": "triage"}, HTTP_HX_REQUEST="true").content.decode()

    assert "<html" not in html
    assert "<h1>Automated decisions</h1>" in html


def test_the_list_costs_the_same_queries_for_many_decisions(
    manager_client: Client, django_assert_num_queries: Any
) -> None:
    DecisionRecordFactory.create_batch(12)
    manager_client.get(LIST)

    # session, user, count, one page of decisions.
    with django_assert_num_queries(4):
        response = manager_client.get(LIST)

    assert len(response.context["page"]) == 12


def test_the_detail_costs_the_same_queries_for_many_proposals(
    manager_client: Client, propose: Callable[..., ProposedAction], django_assert_num_queries: Any
) -> None:
    decision = DecisionRecordFactory()
    for i in range(4):
        propose(note=f"Note {i}", decision=decision)
    manager_client.get(LIST)

    # session, user, the decision, its proposals with who decided them.
    with django_assert_num_queries(4):
        response = manager_client.get(f"/trust/decisions/{decision.pk}/")

    assert len(response.context["proposals"]) == 4


def test_inputs_and_outputs_named_like_dict_methods_show_as_rows(manager_client: Client) -> None:
    # Inputs arrive from workflows and the API as free JSON; a key called "items" once made
    # the template loop over its value instead of the inputs.
    decision = DecisionRecordFactory(inputs={"items": 3, "order": "A-1"}, output={"values": ["x"]})

    response = manager_client.get(f"/trust/decisions/{decision.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    for row in (
        '<th scope="row">items</th><td>3</td>',
        '<th scope="row">order</th><td>A-1</td>',
        '<th scope="row">values</th><td>[&#x27;x&#x27;]</td>',
    ):
        assert row in html
