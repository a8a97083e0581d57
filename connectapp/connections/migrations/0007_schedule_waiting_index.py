"""The schedule's two indexes of waiting links become one, so the sweep's mark of a link writes
one index besides the primary key instead of two (see `RefreshSchedule.Meta.indexes`). The new
index is built before the old ones go, so the sweep always has one."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("connections", "0006_schedule_renewable"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="refreshschedule",
            index=models.Index(
                condition=models.Q(("due_at__isnull", False), ("queued_at__isnull", True)),
                fields=["due_at", "provider"],
                name="schedule_waiting_idx",
            ),
        ),
        migrations.RemoveIndex(
            model_name="refreshschedule",
            name="schedule_unqueued_idx",
        ),
        migrations.RemoveIndex(
            model_name="refreshschedule",
            name="schedule_due_idx",
        ),
    ]
