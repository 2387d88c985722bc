"""The schema's version and the steps that bring an older database up to it.

A new database is created straight from `models` and stamped with `LATEST`. An older one is brought up
step by step, all pending steps in one transaction, when any command opens it. A database stamped with a
version newer than `LATEST` was written by a newer pipecli: it is refused before anything is written.

Everything here works on a connection it is handed: `db.Store.ensure_current` opens the transactions,
switches a SQLite file's journal mode and adds the domain's starting data to a new database (the store
depends on this module, never the other way round). Nothing here writes domain data.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from pipecli import clock
from pipecli.errors import NoDatabase, PipecliError
from pipecli.store import access, sql
from pipecli.store.matchkeys import MATCH_COLUMNS, match_columns
from pipecli.store.target import redact

LATEST = 17
APPLICATION_ID = 0x70697065  # "pipe": marks a SQLite file as pipecli's (PRAGMA application_id)


def _tables(conn: Connection) -> set[str]:
    # local like every SQLAlchemy import of the steps
    from sqlalchemy import inspect

    return set(inspect(conn).get_table_names())


def read_version(conn: Connection) -> int | None:
    """Return the schema version stamped in the database, or None for an empty database.

    Raises PipecliError when the database holds tables but is not a pipecli database."""
    # local like every SQLAlchemy import of the steps
    from sqlalchemy import text

    tables = _tables(conn)
    if not tables:
        return None
    if "meta" not in tables or "lead" not in tables:
        raise PipecliError("this database is not a pipecli database (it holds other tables)")
    row = conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).first()
    if row is None:
        raise PipecliError("this database is not a pipecli database (no schema version)")
    return int(row[0])


def add_missing_columns(conn: Connection, table_name: str, defaults: dict[str, str]) -> None:
    """Add to `table_name` every column the model has and the database lacks (DDL from the model's types).

    `defaults` gives the SQL default for NOT NULL columns, which existing rows need."""
    # local like every SQLAlchemy import of the steps
    from sqlalchemy import inspect

    # the models only to create or migrate: a database at LATEST opens without building them
    from pipecli.store.schema import METADATA

    table = METADATA.tables[table_name]
    present = {c["name"] for c in inspect(conn).get_columns(table_name)}
    for column in table.columns:
        if column.name in present:
            continue
        ddl = f"ALTER TABLE {table_name} ADD COLUMN {column.name} {column.type.compile(conn.dialect)}"
        if column.name in defaults:
            ddl += f" NOT NULL DEFAULT {defaults[column.name]}"
        conn.exec_driver_sql(ddl)


def _create_missing(conn: Connection) -> None:
    """Create every table and index of the models that the database lacks."""
    # local like every SQLAlchemy import of the steps
    from sqlalchemy import inspect
    from sqlalchemy.schema import CreateIndex

    # the models only to create or migrate: a database at LATEST opens without building them
    from pipecli.store import schema
    from pipecli.store.schema import METADATA

    METADATA.create_all(conn, checkfirst=True)
    for table in METADATA.sorted_tables:
        present = {c["name"] for c in inspect(conn).get_columns(table.name)}
        for index in table.indexes:
            if not schema.for_dialect(index, conn.dialect.name):
                continue  # the other backend's form of it
            if any(c.name not in present for c in index.columns):
                continue  # on a column a later step adds; that step creates it
            # IF NOT EXISTS rather than reflection, which cannot see expression indexes
            conn.execute(CreateIndex(index, if_not_exists=True))


# Indexes of earlier schemas that a wider index of the models now serves (see models.Lead); every write paid for them.
REDUNDANT_INDEXES = ("ix_lead_board", "ix_lead_closed")


def m002_followups_scores_extras(conn: Connection) -> None:
    """v1 -> v2: next steps, snoozes, archiving, scores, qualification, extra fields, stage triggers."""
    add_missing_columns(conn, "pipeline", {})
    add_missing_columns(conn, "stage", {"removed": "false"})
    add_missing_columns(
        conn,
        "lead",
        {"fit_score": "0", "engagement": "0", "score": "0", "qualification": "'incomplete'"},
    )
    for name in REDUNDANT_INDEXES:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
    _create_missing(conn)


# v3: indexes no command's plan used (checked with EXPLAIN QUERY PLAN, without ANALYZE statistics), each a
# sort of the whole table in a bulk import and an insert in every write.
UNUSED_INDEXES = (
    "ix_lead_score",
    "ix_lead_cycle",
    "ix_lead_source",
    "ix_lead_owner",
    "ix_lead_created",
    "ix_lead_status_close",
    "ix_lead_status_event",
    "ix_stage_change_to",
    "ix_stage_change_at",
    "ix_activity_at",
)
# v3: indexes made partial or narrower (models.Lead); dropped and built again from the models.
NARROWED_INDEXES = ("ix_lead_email", "ix_lead_external", "ix_lead_outcome", "ix_lead_dup_email", "ix_lead_dup_name")


def m003_fewer_narrower_indexes(conn: Connection) -> None:
    """v2 -> v3: drop the indexes nothing uses, and rebuild the ones made partial."""
    for name in UNUSED_INDEXES + NARROWED_INDEXES:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
    _create_missing(conn)


def m004_history(conn: Connection) -> None:
    """v3 -> v4: the journal and its events. Every existing lead gets a creation event holding its current
    values, marked as known only since this migration (meta `history_since`): what happened before it was
    never observed, and `--as-of` before that moment says it reads values from before history began."""

    # the models only to migrate (a database at LATEST is opened without building them)
    from pipecli.store.schema import snapshot_sql

    _create_missing(conn)
    now = clock.now_ts()
    journal_id = conn.execute(
        text("INSERT INTO journal (at, actor, command) VALUES (:a, 'pipecli', 'migration to schema 4') RETURNING id"),
        {"a": now},
    ).scalar_one()
    conn.execute(
        text(
            f"INSERT INTO event (journal_id, lead_id, at, field, old, new) SELECT :j, id, :a, 'row:lead', NULL, "
            f"CAST({snapshot_sql(conn.dialect.name)} AS TEXT) FROM lead"
        ),
        {"j": journal_id, "a": now},
    )
    conn.execute(text("DELETE FROM meta WHERE key = 'history_since'"))
    conn.execute(text("INSERT INTO meta (key, value) VALUES ('history_since', :a)"), {"a": str(now)})


def m006_mail(conn: Connection) -> None:
    """v5 -> v6: captured mail: the activity's message id, direction, subject and body; the mail sources."""
    add_missing_columns(conn, "activity", {})
    _create_missing(conn)


def m007_forecast_category(conn: Connection) -> None:
    """v6 -> v7: each deal's forecast category (commit, best, pipeline, omit), held by the open-lead index
    too; a lead's stays indexed with their stage and end, so the forecast reads them from the index alone."""
    add_missing_columns(conn, "lead", {})
    for name in ("ix_stage_change_lead", "ix_lead_open"):  # rebuilt wider from the models
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
    _create_missing(conn)


def m008_settings(conn: Connection) -> None:
    """v7 -> v8: the settings a team shares, in the database (`pipecli settings`)."""
    _create_missing(conn)


def m010_merges(conn: Connection) -> None:
    """v9 -> v10: the record of merged leads (`lead_merge`), which `pipecli merge` writes."""
    _create_missing(conn)


def m011_team(conn: Connection) -> None:
    """v10 -> v11: the team (`pipecli team`) and, on PostgreSQL, the row-level security policies keyed on it
    (`store.access`); with no member yet, every role keeps the access its grants give."""
    _create_missing(conn)
    access.enable(conn)


MATCH_BATCH = 5000  # leads whose match columns one UPDATE statement of m012 writes


def m012_match_keys(conn: Connection) -> None:
    """v11 -> v12: the duplicate matcher's blocks stored per lead (`matchkeys.MATCH_COLUMNS`, indexed), filled
    from each lead's e-mail, phone and company; `ix_lead_email` rebuilt on `lower(email)` (`--key email`);
    `ix_lead_dup_email` dropped (the blocks replace it)."""
    add_missing_columns(conn, "lead", {})
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_lead_email")
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_lead_dup_email")  # the old add-lead check's: the blocks serve it
    sets = ", ".join(f"{c} = :{c}" for c in MATCH_COLUMNS)
    update = text(f"UPDATE lead SET {sets} WHERE id = :id")
    rows = conn.execute(
        text(
            "SELECT id, email, phone, company FROM lead "
            "WHERE email IS NOT NULL OR phone IS NOT NULL OR company IS NOT NULL ORDER BY id"
        )
    ).all()
    for start in range(0, len(rows), MATCH_BATCH):
        batch = [{"id": r[0], **match_columns(r[1], r[2], r[3])} for r in rows[start : start + MATCH_BATCH]]
        batch = [b for b in batch if any(b[c] is not None for c in MATCH_COLUMNS)]
        if batch:
            conn.execute(update, batch)
    _create_missing(conn)


def m013_stage_forecast_category(conn: Connection) -> None:
    """v12 -> v13: a stage's default forecast category, for its deals that have none (`pipeline stage
    --forecast-category`)."""
    add_missing_columns(conn, "stage", {})


def m014_faster_policies(conn: Connection) -> None:
    """v13 -> v14: on PostgreSQL, the row-level security policies in their faster form (`access.enable`: what
    does not depend on the row read once per statement, not a function called per row); only where pipecli's
    policies are in place (`access.has_policies`). Nothing on SQLite."""
    if access.has_policies(conn):
        access.enable(conn)


def m015_event_journal_leads(conn: Connection) -> None:
    """v14 -> v15: `ix_event_journal` rebuilt on (journal_id, lead_id), so the leads of a journal entry (`undo
    --list`'s count, what `undo` finds in its way) are read from the index alone, not from each event's row."""
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_event_journal")
    _create_missing(conn)


def m016_event_as_of(conn: Connection) -> None:
    """v15 -> v16: `ix_event_as_of`, the index of the events of the fields a past moment's reports read
    (`history.field_at_sql`): `--as-of` finds each lead's first change after the moment by one seek, instead
    of sorting every event after it."""
    _create_missing(conn)


def m017_owner_index_and_no_passwords(conn: Connection) -> None:
    """v16 -> v17: `ix_lead_by_owner` (a TAB on `--owner`, a seller's own leads under PostgreSQL's policies), and
    the command lines journalled before pipecli kept URL passwords out of them scrubbed: everyone who may
    read a lead reads its history's command lines (each word as `target.redact` writes it)."""
    import shlex  # only for this step

    _create_missing(conn)
    rows = conn.execute(text("SELECT id, command FROM journal WHERE command LIKE '%://%'")).all()
    for entry, command in rows:
        try:
            words = shlex.split(command)
        except ValueError:  # not as pipecli quoted it: each blank-separated word instead
            words = command.split(" ")
        if any(redact(w) != w for w in words):
            clean = " ".join(shlex.quote(redact(w)) for w in words)
            conn.execute(text("UPDATE journal SET command = :c WHERE id = :i"), {"c": clean, "i": entry})


STEPS = {
    2: m002_followups_scores_extras,
    3: m003_fewer_narrower_indexes,
    4: m004_history,
    6: m006_mail,
    7: m007_forecast_category,
    8: m008_settings,
    10: m010_merges,
    11: m011_team,
    12: m012_match_keys,
    13: m013_stage_forecast_category,
    14: m014_faster_policies,
    15: m015_event_journal_leads,
    16: m016_event_as_of,
    17: m017_owner_index_and_no_passwords,
}


def _create_fresh(conn: Connection) -> None:
    # local like every SQLAlchemy import of the steps
    from sqlalchemy import text

    # the models only to create or migrate: a database at LATEST opens without building them
    from pipecli.store.schema import METADATA

    METADATA.create_all(conn)
    access.enable(conn)
    conn.execute(
        text("INSERT INTO meta (key, value) VALUES ('schema_version', :v), ('created_at', :c)"),
        {"v": str(LATEST), "c": str(clock.now_ts())},
    )
    conn.execute(text("INSERT INTO meta (key, value) VALUES ('history_since', '0')"))


def _require_owner(conn: Connection, target: str, current: int) -> None:
    """Raise, before any step runs, when a PostgreSQL connection may not change the schema: only the owner of
    pipecli's tables (or a superuser) alters them and their policies, and a team member's role would fail
    half-way with a misleading "permission denied"."""
    if conn.dialect.name != "postgresql":
        return
    owner = conn.execute(
        text(
            "SELECT r.rolsuper OR pg_has_role(current_user, t.tableowner, 'USAGE') FROM pg_roles r, pg_tables t"
            " WHERE r.rolname = current_user AND t.tablename = 'lead' AND t.schemaname = current_schema()"
        )
    ).scalar()
    if not owner:
        raise PipecliError(
            f"database {redact(target)} is at schema {current} and this pipecli needs schema {LATEST}: only the"
            " owner of pipecli's tables (or a superuser) can bring it up to date; ask them to run any pipecli"
            " command (nothing was changed)"
        )


def check_version(found: int | None, target: str, create: bool) -> None:
    """Raise before anything is written when the version `found` on opening `target` (None: an empty
    database) cannot be brought to LATEST: an empty database without `create` (NoDatabase: it is not
    initialised), or one written by a newer pipecli."""
    if found is None and not create:
        raise NoDatabase(
            f"database {redact(target)} is not initialised (it holds no pipecli tables): nothing was "
            "changed; create them with `pipecli db init`"
        )
    if found is not None and found > LATEST:
        raise PipecliError(
            f"database {target} was written by a newer pipecli (schema {found}; this pipecli "
            f"knows up to {LATEST}); upgrade pipecli to use it. Nothing was changed."
        )


def upgrade(conn: Connection, target: str) -> int | None:
    """Bring the database behind `conn` (a write transaction) to LATEST: the schema created when it is
    empty, else every pending step in order; return the version found, or None when it was empty (then
    the caller adds, in the same transaction, the data a new database starts with).

    One migrator at a time: the version is read again under the schema lock, as another process may have
    migrated meanwhile."""
    sql.serialise(conn, sql.SCHEMA_LOCK)
    current = read_version(conn)
    if current is None:
        _create_fresh(conn)
    elif current < LATEST:
        _require_owner(conn, target, current)
        for version in range(current + 1, LATEST + 1):
            if version not in STEPS:  # a number kept for another branch's step (renumbered at merge)
                continue
            STEPS[version](conn)
            conn.execute(text("UPDATE meta SET value = :v WHERE key = 'schema_version'"), {"v": str(version)})
    return current
