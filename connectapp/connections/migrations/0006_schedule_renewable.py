"""A link's schedule keeps whether the link can be renewed before it expires, so the sweep's
claim reads the narrow schedule alone, never the wide link table."""

from django.db import migrations, models

from connectapp.connections import schedule


def backfill(apps, schema_editor):
    """The links that cannot be renewed: a user's, without a refresh token."""
    schema_editor.execute(
        f"""
        UPDATE {schedule.SCHEDULE} SET renewable = FALSE
        WHERE link_id IN (
            SELECT id FROM {schedule.LINK} WHERE refresh_token = '' AND user_id IS NOT NULL
        )
        """
    )


def triggers(renewable: bool | None):
    """Return a step that installs the triggers, keeping `renewable` or as before it was added
    (see `schedule.install`), or with None, drops them."""

    def step(apps, schema_editor):
        if renewable is None:
            schedule.uninstall(schema_editor.connection)
        else:
            schedule.install(schema_editor.connection, renewable=renewable)

    return step


class Migration(migrations.Migration):

    dependencies = [
        ("connections", "0005_events_api_schedule"),
    ]

    operations = [
        # SQLite rebuilds the schedule table to add a column, which the link table's triggers
        # name: they are dropped first, and made again once the column is there.
        migrations.RunPython(triggers(None), triggers(renewable=False)),
        migrations.AddField(
            model_name="refreshschedule",
            name="renewable",
            field=models.BooleanField(default=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(triggers(renewable=True), triggers(None)),
    ]
