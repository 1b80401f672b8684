"""Conversation.contact_id (a bare integer) becomes a real foreign key to crm.Contact.

The ids already stored are kept: the column is renamed and constrained, not re-created
(0006 cleared the ids the constraint would refuse).
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0001_initial"),
        ("inbox", "0006_clear_dangling_conversation_contacts"),
    ]

    operations = [
        # Step 1: the integer field takes the foreign key's name (column "contact").
        migrations.RenameField(model_name="conversation", old_name="contact_id", new_name="contact"),
        # Step 2: the integer becomes the key; its column goes back to "contact_id".
        migrations.AlterField(
            model_name="conversation",
            name="contact",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="conversations",
                to="crm.contact",
            ),
        ),
    ]
