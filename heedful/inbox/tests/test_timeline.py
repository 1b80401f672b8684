"""Every message lands on the contact's timeline (issue 4, part 2)."""

from __future__ import annotations

import pytest

from heedful.crm.models import Contact
from heedful.inbox import services
from heedful.inbox.models import Channel

pytestmark = pytest.mark.django_db


def test_every_message_of_an_email_conversation_lands_on_the_contacts_timeline(no_engine, agent):
    conversation = services.start_conversation(
        channel=Channel.EMAIL, customer_email="Anna@Example.com", customer_name="Anna Berg"
    )

    services.receive_customer_message(conversation=conversation, body="Where is my tea?")
    services.reply_as_agent(conversation=conversation, user=agent, body="On its way.")
    services.add_internal_note(conversation=conversation, user=agent, body="internal only")

    contact = Contact.objects.get(email="anna@example.com")
    assert (contact.first_name, contact.last_name) == ("Anna", "Berg")
    messages = contact.timeline.filter(kind="message").order_by("occurred_at", "id")
    entries = list(messages.values_list("kind", "title", "body", "source"))
    assert entries == [
        ("message", "Customer · Email", "Where is my tea?", "inbox"),
        ("message", "Bot · Email", entries[1][2], "inbox"),
        ("message", "Agent · Email", "On its way.", "inbox"),
    ]
    assert entries[1][2].startswith("I'm not sure enough to answer this correctly myself.")


def test_a_chat_visitor_without_an_email_has_no_contact(no_engine):
    conversation = services.start_conversation(channel=Channel.CHAT)

    services.receive_customer_message(conversation=conversation, body="hi")

    assert conversation.contact_id is None
    assert Contact.objects.count() == 0
