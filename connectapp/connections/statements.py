"""The statements of the hot paths, a refresh and the sweep's claim, where the ORM cannot say
them in one statement or its own work costs as much as the database's (see `bench/`).

A refresh's two (the locked read, and one write of the link with its event and outbox row)
are written out once per process from the models' metadata, so a new field or a custom user
model needs no change here, and read back through the fields' own converters
(`from_db_value`). The sweep's claim marks a batch of links in the UPDATE that selects them.
Where the database cannot lock one table of a join or write through a common table expression
(SQLite, the demo's), each falls back to the ORM.
"""

from collections.abc import Sequence
from datetime import datetime
from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection, models
from django.db.models.expressions import RawSQL

from .models import (
    RECEIVING,
    AnnouncedEvent,
    ConnectionEvent,
    LinkedAccount,
    RefreshSchedule,
    WebhookEndpoint,
    including,
)


def _compiled() -> bool:
    """Return whether the database takes these statements (else the ORM writes its own)."""
    return connection.vendor == "postgresql"


@cache
def _link_and_owner() -> tuple[str, list]:
    """Return the locked read's SQL and the link's fields it reads (then the owner's)."""
    quote = connection.ops.quote_name
    link_fields = list(LinkedAccount._meta.concrete_fields)
    owner_model = get_user_model()
    owner_fields = list(owner_model._meta.concrete_fields)
    link_table, owner_table = LinkedAccount._meta.db_table, owner_model._meta.db_table
    columns = [f"l.{quote(field.column)}" for field in link_fields]
    columns += [f"o.{quote(field.column)}" for field in owner_fields]
    owner_key = LinkedAccount._meta.get_field("user")
    sql = (
        f"SELECT {', '.join(columns)} FROM {quote(link_table)} l "
        f"LEFT OUTER JOIN {quote(owner_table)} o "
        f"ON o.{quote(owner_model._meta.pk.column)} = l.{quote(owner_key.column)} "
        f"WHERE l.{quote(LinkedAccount._meta.pk.column)} = %s FOR UPDATE OF l"
    )
    return sql, link_fields


@cache
def _converters(model: type[models.Model]) -> tuple[list[str], list[tuple]]:
    """Return the attribute names of the model's concrete fields and, for each, the functions
    that turn a column's value into the field's (the backend's, then the field's own), with the
    column expression they take."""
    names, converters = [], []
    for field in model._meta.concrete_fields:
        column = field.get_col(model._meta.db_table)
        names.append(field.attname)
        functions = (
            *connection.ops.get_db_converters(column),
            *field.get_db_converters(connection),
        )
        converters.append((functions, column))
    return names, converters


def _instance(model: type[models.Model], values: Sequence) -> models.Model:
    """Return the instance a row's values of the model's concrete fields make, as the ORM
    would build it."""
    names, converters = _converters(model)
    converted = []
    for value, (functions, column) in zip(values, converters, strict=True):
        for convert in functions:
            value = convert(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, names, converted)


def lock_link(pk: int) -> LinkedAccount | None:
    """Return the link `pk`, its owner read along, with its row (and only its row) locked for
    update until the caller's transaction ends; None when there is no such link.

    `LinkedAccount.objects.locked().select_related("user")` in one statement the process
    writes once.
    """
    if not _compiled():
        return LinkedAccount.objects.locked().select_related("user").filter(pk=pk).first()
    sql, link_fields = _link_and_owner()
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    link = _instance(LinkedAccount, row[: len(link_fields)])
    owner = None
    if link.user_id is not None:
        owner = _instance(get_user_model(), row[len(link_fields) :])
    LinkedAccount.user.field.set_cached_value(link, owner)
    return link


@cache
def _wanted(event_type: str) -> tuple[str, tuple]:
    """Return the query of the endpoints `webhooks.dispatch` fans an event of the type out to
    (`RECEIVING`, and `WebhookEndpoint.wants` said for the database), and its parameters."""
    endpoints = WebhookEndpoint.objects.filter(RECEIVING, including("events", event_type))
    return endpoints.order_by().values("pk").query.sql_with_params()


@cache
def _write_and_record(link_columns: tuple[str, ...], wanted: str) -> str:
    """Return the SQL that writes `link_columns` of one link (none: no UPDATE) and inserts its
    history entry and the entry's announcement, answering the new rows' ids and whether the
    announcement waits to be dispatched: one no endpoint of the query `wanted` would receive
    is born dispatched."""
    quote = connection.ops.quote_name
    link, history, outbox = (
        model._meta for model in (LinkedAccount, ConnectionEvent, AnnouncedEvent)
    )
    parts = []
    if link_columns:
        assignments = ", ".join(f"{quote(column)} = %s" for column in link_columns)
        parts.append(
            f"written AS (UPDATE {quote(link.db_table)} SET {assignments} "
            f"WHERE {quote(link.pk.column)} = %s)"
        )
    history_columns = [history.get_field(name).column for name in HISTORY_FIELDS]
    parts.append(
        f"history AS (INSERT INTO {quote(history.db_table)} "
        f"({', '.join(map(quote, history_columns))}) "
        f"VALUES ({', '.join(['%s'] * len(history_columns))}) "
        f"RETURNING {quote(history.pk.column)} AS id)"
    )
    announced, dispatched = (
        quote(outbox.get_field(name).column) for name in ("connection_event", "dispatched_at")
    )
    columns = [quote(outbox.get_field(name).column) for name in ANNOUNCEMENT_FIELDS]
    return (
        f"WITH {', '.join(parts)} INSERT INTO {quote(outbox.db_table)} "
        f"({', '.join([*columns, announced, dispatched])}) "
        f"SELECT {', '.join(['%s'] * len(columns))}, history.id, "
        f"CASE WHEN EXISTS ({wanted}) THEN NULL ELSE %s END FROM history "
        f"RETURNING {announced}, {quote(outbox.pk.column)}, {dispatched}"
    )


HISTORY_FIELDS = ("account", "kind", "outcome", "detail", "actor", "created_at")
ANNOUNCEMENT_FIELDS = ("event_id", "type", "payload", "account", "created_at")


def _values(instance: models.Model, names: Sequence[str], *, add: bool) -> list:
    """Return what the database stores for `names` of `instance`, as `save` would send it."""
    values = []
    for name in names:
        field = instance._meta.get_field(name)
        values.append(field.get_db_prep_save(field.pre_save(instance, add), connection))
    return values


def write_and_record(
    link: LinkedAccount,
    fields: Sequence[str],
    history: ConnectionEvent,
    announcement: AnnouncedEvent,
) -> None:
    """Save `fields` of the link (none: nothing of it), and the new `history` entry with its
    `announcement`, giving both their primary keys: `link.save(update_fields=fields)` and two
    `save`s, in one statement where the database takes one. There, an announcement no webhook
    endpoint wants is saved as dispatched already (`dispatched_at`): no worker need fan it out.
    No `save` signals are sent for the link (as for `QuerySet.update`)."""
    if not _compiled():
        if fields:
            link.save(update_fields=fields)
        history.save(force_insert=True)
        announcement.connection_event = history
        announcement.save(force_insert=True)
        return
    wanted, wanted_parameters = _wanted(announcement.type)
    sql = _write_and_record(tuple(link._meta.get_field(name).column for name in fields), wanted)
    parameters = [*_values(link, fields, add=False), link.pk] if fields else []
    parameters += _values(history, HISTORY_FIELDS, add=True)
    parameters += _values(announcement, ANNOUNCEMENT_FIELDS, add=True)
    parameters += [*wanted_parameters, announcement.created_at]
    with connection.cursor() as cursor:
        cursor.execute(sql, parameters)
        history.pk, announcement.pk, announcement.dispatched_at = cursor.fetchone()
    for instance in (history, announcement):
        instance._state.adding = False
        instance._state.db = connection.alias
    announcement.connection_event = history


def mark_queued(claimable: models.QuerySet, size: int, at: datetime) -> list[int]:
    """Mark the first `size` links of `claimable` (`RefreshSchedule` rows, in the order to
    claim them) as queued `at`, passing over rows another transaction holds; return their link
    ids in that order. Within the caller's transaction, which holds their rows until it ends.

    On PostgreSQL one statement: the UPDATE finds the rows the locked SELECT chose by their
    physical address (`ctid`, stable while the row is locked), with no index lookup per row.
    """
    locked = claimable.select_for_update(skip_locked=True)
    if not _compiled():
        ids = list(locked.values_list("pk", flat=True)[:size])
        RefreshSchedule.objects.filter(pk__in=ids).update(queued_at=at)
        return ids
    chosen, parameters = (
        locked.annotate(address=RawSQL("ctid", ())).values_list("address")[:size].query
    ).sql_with_params()
    quote = connection.ops.quote_name
    meta = RefreshSchedule._meta
    queued, due = (quote(meta.get_field(name).column) for name in ("queued_at", "due_at"))
    # The expiry comes back as seconds: the ORM's reading of a timestamp is Python's work.
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {queued} = %s WHERE ctid = ANY(ARRAY({chosen})) "
        f"RETURNING {quote(meta.pk.column)}, extract(epoch FROM {due})::float8"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [at, *parameters])
        marked = cursor.fetchall()
    return [link_id for link_id, _ in sorted(marked, key=lambda row: (row[1], row[0]))]
