"""What 0.2.0 adds to 0.1.0's schema, in one migration: webhooks (the announced events, the
endpoints and their deliveries), the backend API (keys, their usage, connect sessions and the
site's user ids), and the sweep's schedule.

The sweep's scheduling columns move from the link to a narrow table of their own, kept by
triggers (`connectapp.connections.schedule`), so a routine refresh's UPDATE of the link touches
no indexed column (HOT); routine refresh events get an index for their pruning.

It replaces the three migrations these came in while 0.2.0 was being made, so a database that
applied them is up to date as it is.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import connectapp.connections.fields
import connectapp.connections.models
from connectapp.connections import schedule


def backfill(apps, schema_editor):
    """One schedule row per existing link, its mark carried over."""
    schema_editor.execute(
        f"""
        INSERT INTO {schedule.SCHEDULE} (link_id, provider, due_at, queued_at)
        SELECT id, provider, CASE WHEN status = 'active' THEN expires_at END, refresh_queued_at
        FROM {schedule.LINK}
        """
    )


def unfill(apps, schema_editor):
    schema_editor.execute(
        f"""
        UPDATE {schedule.LINK} SET refresh_queued_at = (
            SELECT queued_at FROM {schedule.SCHEDULE} WHERE link_id = {schedule.LINK}.id
        )
        """
    )


def install_triggers(apps, schema_editor):
    # As they were before 0006 gave the schedule its `renewable` column.
    schedule.install(schema_editor.connection, renewable=False)


def uninstall_triggers(apps, schema_editor):
    schedule.uninstall(schema_editor.connection)


class Migration(migrations.Migration):

    replaces = [
        ('connections', '0005_webhooks'),
        ('connections', '0006_api'),
        ('connections', '0007_refresh_speed'),
    ]

    dependencies = [('connections', '0004_app_level_connections'), migrations.swappable_dependency(settings.AUTH_USER_MODEL)]

    operations = [
        # Webhooks: the outbox of announced events, the endpoints, their deliveries.
        migrations.CreateModel(
            name='AnnouncedEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event_id', models.CharField(default=connectapp.connections.models.new_event_id, max_length=40, unique=True)),
                ('type', models.CharField(db_index=True, max_length=40)),
                ('payload', models.JSONField()),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('dispatched_at', models.DateTimeField(blank=True, null=True)),
                ('account', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='connections.linkedaccount')),
                ('connection_event', models.OneToOneField(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='announcement', to='connections.connectionevent')),
            ],
            options={
                'ordering': ['-created_at', '-pk'],
                'indexes': [models.Index(condition=models.Q(('dispatched_at__isnull', True)), fields=['created_at'], name='event_undispatched_idx')],
            },
        ),
        migrations.CreateModel(
            name='WebhookEndpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('url', models.URLField(max_length=2000, verbose_name='URL')),
                ('description', models.CharField(blank=True, default='', max_length=200, verbose_name='description')),
                ('events', models.JSONField(blank=True, default=list, help_text='the event types it wants; empty for every type', verbose_name='events')),
                ('is_active', models.BooleanField(default=True, verbose_name='active')),
                ('secret', connectapp.connections.fields.EncryptedTextField(editable=False)),
                ('failing_since', models.DateTimeField(blank=True, editable=False, null=True, verbose_name='failing since')),
                ('disabled_at', models.DateTimeField(blank=True, editable=False, help_text='disabled after failing for days', null=True, verbose_name='disabled at')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
            ],
            options={'verbose_name': 'webhook endpoint', 'verbose_name_plural': 'webhook endpoints', 'ordering': ['pk']},
        ),
        migrations.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('delivered', 'Delivered'), ('failed', 'Failed (retries exhausted)')], default='pending', max_length=16, verbose_name='status')),
                ('attempt_count', models.PositiveIntegerField(default=0, verbose_name='attempts')),
                ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='next attempt at')),
                ('queued_at', models.DateTimeField(blank=True, null=True)),
                ('attempt_started_at', models.DateTimeField(blank=True, null=True)),
                ('last_status_code', models.PositiveIntegerField(blank=True, null=True, verbose_name='last status code')),
                ('delivered_at', models.DateTimeField(blank=True, null=True, verbose_name='delivered at')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                ('event', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='connections.announcedevent', verbose_name='event')),
                ('endpoint', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='connections.webhookendpoint', verbose_name='endpoint')),
            ],
            options={
                'verbose_name': 'webhook delivery',
                'verbose_name_plural': 'webhook deliveries',
                'ordering': ['-created_at', '-pk'],
                'indexes': [models.Index(condition=models.Q(('status', 'pending')), fields=['next_attempt_at'], name='delivery_pending_idx'), models.Index(condition=models.Q(('attempt_started_at__isnull', False)), fields=['endpoint', 'attempt_started_at'], name='delivery_in_flight_idx')],
                'constraints': [models.UniqueConstraint(fields=('event', 'endpoint'), name='one_delivery_per_endpoint')],
            },
        ),
        migrations.CreateModel(
            name='DeliveryAttempt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('attempted_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='attempted at')),
                ('status_code', models.PositiveIntegerField(blank=True, null=True, verbose_name='status code')),
                ('duration_ms', models.PositiveIntegerField(default=0, verbose_name='duration (ms)')),
                ('response_excerpt', models.TextField(blank=True, default='', verbose_name='response excerpt')),
                ('error', models.CharField(blank=True, default='', max_length=500, verbose_name='error')),
                ('delivery', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attempts', to='connections.webhookdelivery')),
            ],
            options={'verbose_name': 'delivery attempt', 'verbose_name_plural': 'delivery attempts', 'ordering': ['-attempted_at', '-pk']},
        ),
        # The backend API: keys and what they used, connect sessions, the site's user ids.
        migrations.CreateModel(
            name='ApiKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100, verbose_name='name')),
                ('prefix', models.CharField(help_text="the key's first characters, to recognise it", max_length=16, unique=True, verbose_name='prefix')),
                ('key_hash', models.CharField(editable=False, max_length=64, unique=True)),
                ('scopes', models.JSONField(default=list, verbose_name='scopes')),
                ('providers', models.JSONField(blank=True, default=list, help_text='the providers this key may use; empty for all', verbose_name='providers')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created at')),
                ('revoked_at', models.DateTimeField(blank=True, null=True, verbose_name='revoked at')),
                ('last_used_at', models.DateTimeField(blank=True, null=True, verbose_name='last used at')),
            ],
            options={'verbose_name': 'API key', 'ordering': ['-created_at', 'pk']},
        ),
        migrations.CreateModel(
            name='ApiUsage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('credentials', 'Credentials read'), ('proxy', 'Proxied call')], max_length=16, verbose_name='kind')),
                ('count', models.PositiveBigIntegerField(default=0, verbose_name='count')),
                ('last_at', models.DateTimeField(verbose_name='last used at')),
                ('account', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='api_usage', to='connections.linkedaccount', verbose_name='account')),
                ('key', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='usage', to='connections.apikey', verbose_name='API key')),
            ],
            options={
                'verbose_name': 'API usage',
                'verbose_name_plural': 'API usage',
                'constraints': [models.UniqueConstraint(fields=('key', 'account', 'kind'), name='one_usage_row')],
            },
        ),
        migrations.CreateModel(
            name='ConnectSession',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token_hash', models.CharField(editable=False, max_length=64, unique=True)),
                ('site_id', models.CharField(max_length=255, verbose_name="site's user id")),
                ('email', models.EmailField(blank=True, default='', max_length=254)),
                ('display_name', models.CharField(blank=True, default='', max_length=150)),
                ('providers', models.JSONField(default=list)),
                ('return_url', models.URLField(max_length=2000)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('expires_at', models.DateTimeField()),
                ('used_at', models.DateTimeField(blank=True, null=True)),
                ('key', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='connections.apikey')),
            ],
        ),
        migrations.CreateModel(
            name='SiteUser',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('site_id', models.CharField(max_length=255, unique=True, verbose_name="site's user id")),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='site_identity', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        # The sweep's schedule: out of the link's row, into a table of its own.
        migrations.CreateModel(
            name='RefreshSchedule',
            fields=[
                ('link', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='schedule', serialize=False, to='connections.linkedaccount')),
                ('provider', models.CharField(max_length=64)),
                ('due_at', models.DateTimeField(blank=True, null=True, verbose_name='refresh due')),
                ('queued_at', models.DateTimeField(blank=True, null=True, verbose_name='refresh queued')),
            ],
            options={
                'indexes': [models.Index(condition=models.Q(('due_at__isnull', False), ('queued_at__isnull', True)), fields=['provider', 'due_at'], name='schedule_unqueued_idx'), models.Index(condition=models.Q(('due_at__isnull', False)), fields=['due_at'], name='schedule_due_idx'), models.Index(condition=models.Q(('queued_at__isnull', False)), fields=['queued_at'], name='schedule_queued_idx')],
            },
        ),
        migrations.RunPython(backfill, unfill),
        migrations.RemoveIndex(model_name='linkedaccount', name='active_link_expiry_idx'),
        migrations.RemoveIndex(model_name='linkedaccount', name='link_refresh_unqueued_idx'),
        migrations.RemoveIndex(model_name='linkedaccount', name='link_refresh_queued_idx'),
        migrations.RemoveField(model_name='linkedaccount', name='refresh_queued_at'),
        migrations.AddIndex(
            model_name='connectionevent',
            index=models.Index(condition=models.Q(('detail', ''), ('kind', 'refreshed'), ('outcome', 'ok')), fields=['created_at'], name='event_routine_time_idx'),
        ),
        # The labels the admin shows, translated, on the tables 0.1.0 made.
        migrations.AlterModelOptions(name='connectionevent', options={'ordering': ['-created_at', '-pk'], 'verbose_name': 'connection event', 'verbose_name_plural': 'connection events'}),
        migrations.AlterModelOptions(name='linkedaccount', options={'ordering': ['provider', 'username', 'pk'], 'permissions': [('disconnect_linkedaccount', 'Can disconnect linked account')], 'verbose_name': 'linked account', 'verbose_name_plural': 'linked accounts'}),
        migrations.AlterField(model_name='connectionevent', name='account', field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='connections.linkedaccount', verbose_name='account')),
        migrations.AlterField(model_name='connectionevent', name='actor', field=models.CharField(help_text='who or what acted: user:…, admin:…, worker', max_length=150, verbose_name='actor')),
        migrations.AlterField(model_name='connectionevent', name='created_at', field=models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='created at')),
        migrations.AlterField(model_name='connectionevent', name='detail', field=models.TextField(blank=True, default='', verbose_name='detail')),
        migrations.AlterField(model_name='connectionevent', name='kind', field=models.CharField(choices=[('connected', 'Connected'), ('reconnected', 'Reconnected'), ('refreshed', 'Token refreshed'), ('verified', 'Identity verified'), ('needs_reconnect', 'Needs reconnect'), ('disconnected', 'Disconnected'), ('error', 'Error')], max_length=32, verbose_name='kind')),
        migrations.AlterField(model_name='connectionevent', name='outcome', field=models.CharField(choices=[('ok', 'OK'), ('failed', 'Failed'), ('transient', 'Provider unavailable')], default='ok', max_length=16, verbose_name='outcome')),
        migrations.AlterField(model_name='linkedaccount', name='last_error', field=models.TextField(blank=True, default='', verbose_name='last error')),
        migrations.AlterField(model_name='linkedaccount', name='last_error_at', field=models.DateTimeField(blank=True, null=True, verbose_name='last error at')),
        migrations.AlterField(model_name='linkedaccount', name='last_refreshed_at', field=models.DateTimeField(blank=True, null=True, verbose_name='last refreshed at')),
        migrations.AlterField(model_name='linkedaccount', name='last_verified_at', field=models.DateTimeField(blank=True, null=True, verbose_name='last verified at')),
        migrations.AlterField(model_name='linkedaccount', name='provider', field=models.CharField(max_length=64, verbose_name='provider')),
        migrations.AlterField(model_name='linkedaccount', name='scopes', field=models.JSONField(blank=True, default=list, verbose_name='scopes')),
        migrations.AlterField(model_name='linkedaccount', name='status', field=models.CharField(choices=[('active', 'Active'), ('needs_reconnect', 'Needs reconnect'), ('revoked', 'Disconnected'), ('error', 'Error')], default='active', max_length=20, verbose_name='status')),
        migrations.AlterField(model_name='linkedaccount', name='updated_at', field=models.DateTimeField(auto_now=True, verbose_name='updated at')),
        migrations.AlterField(model_name='linkedaccount', name='user', field=models.ForeignKey(blank=True, help_text="empty for this site's own app-level connection", null=True, on_delete=django.db.models.deletion.CASCADE, related_name='linked_accounts', to=settings.AUTH_USER_MODEL, verbose_name='user')),
        # Last: SQLite rebuilds the link table above, which would drop triggers made earlier.
        migrations.RunPython(install_triggers, uninstall_triggers),
    ]
