from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("connections", "0002_disconnect_permission")]

    operations = [
        migrations.AddField(
            model_name="linkedaccount",
            name="refresh_queued_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="refresh queued"),
        ),
        migrations.AddIndex(
            model_name="linkedaccount",
            index=models.Index(
                condition=models.Q(("refresh_queued_at__isnull", True), ("status", "active")),
                fields=["provider", "expires_at"],
                name="link_refresh_unqueued_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="linkedaccount",
            index=models.Index(
                condition=models.Q(("refresh_queued_at__isnull", False)),
                fields=["refresh_queued_at"],
                name="link_refresh_queued_idx",
            ),
        ),
    ]
