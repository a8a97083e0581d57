"""A link's history needs no index of its own on the link: `event_account_time_idx` leads with
it. One index less to write for every event, and to keep for every row of the largest table.

Only the index is dropped: Django's own AlterField would drop and add the foreign key again,
checking every row of the events table while it holds the links' table."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "connections_connectionevent_account_id_882f9461"


class Migration(migrations.Migration):

    dependencies = [
        ("connections", "0007_schedule_waiting_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="connectionevent",
                    name="account",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="connections.linkedaccount",
                        verbose_name="account",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    f'CREATE INDEX IF NOT EXISTS "{INDEX}" '
                    'ON "connections_connectionevent" ("account_id")',
                ),
            ],
        ),
    ]
