"""A customer with a long (valid) email address: nothing fails, labels are cut to fit."""

from __future__ import annotations

import pytest

from heedful.governance.models import DecisionRecord
from heedful.governance.services import Subject
from heedful.inbox import services
from heedful.inbox.models import Message
from heedful.workflows.models import Event

pytestmark = pytest.mark.django_db(transaction=True)

# 64 + 1 + 188 = 253 characters: within RFC 5321's 254. Found by schemathesis through the web
# form; on PostgreSQL the 200-character label columns refused it and the message was lost.
LONG = "r" * 64 + "@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 52 + ".example"


def test_a_message_from_a_253_character_address_is_stored_and_triaged() -> None:
    assert len(LONG) == 253
    message = services.submit_contact_form(
        email=LONG, name="Rosa", subject="Order", text="Where is my order?"
    )
    assert Message.objects.filter(pk=message.pk).exists()
    labels = list(Event.objects.values_list("subject_label", flat=True))
    labels += list(DecisionRecord.objects.values_list("subject_label", flat=True))
    # contact.created says the contact's name; conversation.created and the bot's decision the address
    assert sorted(set(labels)) == ["Rosa", LONG[:200]]


def test_a_subject_label_is_cut_to_the_columns_width() -> None:
    assert Subject("contact", "7", "x" * 300).label == "x" * 200
    assert Subject("contact", "7", "Noor").label == "Noor"
