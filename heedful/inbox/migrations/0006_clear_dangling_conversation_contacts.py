"""Before Conversation.contact becomes a foreign key (0007): clear the ids of contacts that no
longer exist, which the constraint would refuse. They already pointed nowhere, and the
conversation keeps the customer's address. Its own migration, so PostgreSQL commits these
updates before the table is altered."""

from django.db import migrations


def clear_dangling_contact_ids(apps, schema_editor):  # type: ignore[no-untyped-def]
    Conversation = apps.get_model("inbox", "Conversation")
    Contact = apps.get_model("crm", "Contact")
    linked = Conversation.objects.exclude(contact_id__isnull=True)
    linked.exclude(contact_id__in=Contact.objects.values("pk")).update(contact_id=None)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0001_initial"),
        ("inbox", "0005_canned_response_shortcuts"),
    ]

    operations = [migrations.RunPython(clear_dangling_contact_ids, migrations.RunPython.noop)]
