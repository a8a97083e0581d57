"""The database triggers that keep each link's `RefreshSchedule` row, whoever writes the link.

A link's schedule row is inserted with the link; its `due_at` is the access token's expiry
while the link is active and empty otherwise, `renewable` says whether the link can be renewed
before it expires (`models.RENEWABLE`), and a new expiry (a saved refresh) ends the sweep's
mark. In the database rather than in `save()`, so bulk writes, queryset updates and raw SQL
keep it too, and the refresh's client sends no extra statement for it. `install` is
idempotent: migrations 0005 and 0006 run it, and so does every `migrate` (SQLite drops a
table's triggers when a later migration rebuilds the table).
"""

from django.db.backends.base.base import BaseDatabaseWrapper

LINK = "connections_linkedaccount"
SCHEDULE = "connections_refreshschedule"


def _renewable_parts(renewable: bool) -> dict[str, str]:
    """Return the triggers' parts that keep the schedule's `renewable` (`models.RENEWABLE` of
    the link row): empty for the triggers of migration 0007, before the column was added."""
    if not renewable:
        return dict.fromkeys(("column", "value", "assignment", "watched", "changed"), "")
    value = "(NEW.refresh_token <> '' OR NEW.user_id IS NULL)"
    return {
        "column": ", renewable",
        "value": f", {value}",
        "assignment": f"renewable = {value},",
        "watched": ", refresh_token, user_id",
        "changed": " OR (OLD.refresh_token = '') <> (NEW.refresh_token = '')"
        " OR (OLD.user_id IS NULL) <> (NEW.user_id IS NULL)",
    }


# The statements are put together from this module's fixed parts above; no input reaches them.
_POSTGRESQL = [
    """
    CREATE OR REPLACE FUNCTION connections_schedule_link() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO connections_refreshschedule (link_id, provider, due_at, queued_at{column})
        VALUES (NEW.id, NEW.provider,
                CASE WHEN NEW.status = 'active' THEN NEW.expires_at END, NULL{value});
      ELSE
        UPDATE connections_refreshschedule
           SET due_at = CASE WHEN NEW.status = 'active' THEN NEW.expires_at END, {assignment}
               queued_at = CASE WHEN NEW.expires_at IS DISTINCT FROM OLD.expires_at
                                THEN NULL ELSE queued_at END
         WHERE link_id = NEW.id;
      END IF;
      RETURN NULL;
    END $$
    """,
    """
    CREATE OR REPLACE TRIGGER connections_link_scheduled AFTER INSERT ON connections_linkedaccount
    FOR EACH ROW EXECUTE FUNCTION connections_schedule_link()
    """,
    # A refresh that rotates the refresh token fires it for its new expiry anyway; comparing
    # the two tokens with '' costs next to nothing.
    """
    CREATE OR REPLACE TRIGGER connections_link_rescheduled
    AFTER UPDATE OF status, expires_at{watched} ON connections_linkedaccount FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
          {changed})
    EXECUTE FUNCTION connections_schedule_link()
    """,
    # Room on each page for the next version of a row, so a refresh's update stays on its page.
    "ALTER TABLE connections_linkedaccount SET (fillfactor = 80)",
]

_SQLITE = [
    # Replaced, as an older version may be there.
    "DROP TRIGGER IF EXISTS connections_link_scheduled",
    "DROP TRIGGER IF EXISTS connections_link_rescheduled",
    """
    CREATE TRIGGER connections_link_scheduled
    AFTER INSERT ON connections_linkedaccount
    BEGIN
      INSERT INTO connections_refreshschedule (link_id, provider, due_at, queued_at{column})
      VALUES (NEW.id, NEW.provider,
              CASE WHEN NEW.status = 'active' THEN NEW.expires_at END, NULL{value});
    END
    """,
    """
    CREATE TRIGGER connections_link_rescheduled
    AFTER UPDATE OF status, expires_at{watched} ON connections_linkedaccount FOR EACH ROW
    WHEN OLD.status IS NOT NEW.status OR OLD.expires_at IS NOT NEW.expires_at{changed}
    BEGIN
      UPDATE connections_refreshschedule
         SET due_at = CASE WHEN NEW.status = 'active' THEN NEW.expires_at END, {assignment}
             queued_at = CASE WHEN NEW.expires_at IS NOT OLD.expires_at
                              THEN NULL ELSE queued_at END
       WHERE link_id = NEW.id;
    END
    """,
]

_DROP = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS connections_link_scheduled ON connections_linkedaccount",
        "DROP TRIGGER IF EXISTS connections_link_rescheduled ON connections_linkedaccount",
        "DROP FUNCTION IF EXISTS connections_schedule_link()",
        "ALTER TABLE connections_linkedaccount RESET (fillfactor)",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS connections_link_scheduled",
        "DROP TRIGGER IF EXISTS connections_link_rescheduled",
    ],
}


def install(connection: BaseDatabaseWrapper, *, renewable: bool = True) -> None:
    """Create (or replace) the triggers on `connection`'s database; PostgreSQL or SQLite.

    `renewable=False` installs them as they were before the schedule kept `renewable`
    (migration 0005, and 0006 migrated back).
    """
    statements = {"postgresql": _POSTGRESQL, "sqlite": _SQLITE}.get(connection.vendor)
    if statements is None:
        raise NotImplementedError(f"no schedule triggers for {connection.vendor}")
    parts = _renewable_parts(renewable)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement.format(**parts))


def uninstall(connection: BaseDatabaseWrapper) -> None:
    """Drop the triggers (migrating back before 0005)."""
    with connection.cursor() as cursor:
        for statement in _DROP.get(connection.vendor, []):
            cursor.execute(statement)
