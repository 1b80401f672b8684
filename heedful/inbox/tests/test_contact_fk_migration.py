"""The move of Conversation.contact_id to a real foreign key keeps every link that points somewhere."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from heedful.crm.models import Contact
from heedful.inbox import services
from heedful.inbox.models import Channel, Conversation

BEFORE = [("inbox", "0005_canned_response_shortcuts"), ("crm", "0001_initial")]
AFTER = [("inbox", "0007_conversation_contact_fk")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_links_and_clears_ids_of_vanished_contacts():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    contact = old.get_model("crm", "Contact").objects.create(email="anna@example.com", first_name="Anna")
    OldConversation = old.get_model("inbox", "Conversation")
    linked = OldConversation.objects.create(
        channel="email", contact_id=contact.pk, customer_email="anna@example.com"
    )
    dangling = OldConversation.objects.create(
        channel="email", contact_id=contact.pk + 1000, customer_email="x@y.z"
    )
    without = OldConversation.objects.create(channel="chat")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    rows = dict(Conversation.objects.values_list("pk", "contact_id"))
    assert rows == {linked.pk: contact.pk, dangling.pk: None, without.pk: None}
    assert Conversation.objects.get(pk=linked.pk).contact == Contact.objects.get(email="anna@example.com")


@pytest.mark.django_db
def test_erasing_a_contact_keeps_the_conversation_without_the_link(no_engine):
    conversation = services.start_conversation(channel=Channel.EMAIL, customer_email="anna@example.com")
    assert conversation.contact is not None

    Contact.objects.get(pk=conversation.contact_id).delete()

    conversation.refresh_from_db()
    assert conversation.contact_id is None
    assert conversation.customer_email == "anna@example.com"
