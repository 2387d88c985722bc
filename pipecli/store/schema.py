"""The tables, as SQLModel classes: the current schema in one place.

A pipeline owns stages; open stages have a `position` (1..n), and each pipeline also has one `won` and
one `lost` stage (its outcomes), so every stage change, closing included, is one row of `stage_change`.
History is the truth: `stage_change` records every move with its time, and `activity` every touch.
What every report needs about a lead *now* is cached on the lead by the writes that change it
(`status`, `stage_entered_at`, `last_activity_at`, `last_event_at`, `furthest_position`), so reports are
aggregates over one indexed table; `--as-of` reports read the history instead.

Since schema 4 every change is also an event: `journal` has one row per command invocation that changed
data (when, who, the command line) and `event` one row per change it made — a lead's field from its old
to its new value, or a whole row of another table inserted, updated or deleted (as JSON). Events are the
truth the cached columns are checked against (`history.verify`), what `history`, `changes` and the
`--as-of` reports read, and what `undo` inverts.

Times are integer epoch seconds (UTC); calendar dates are DATE; money is integer minor units.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from sqlalchemy import BigInteger, Index, Table, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from pipecli.store.columns import AS_OF_CONDITION, SNAPSHOT_COLUMNS

SCHEMA_VERSION_KEY = "schema_version"


class Meta(SQLModel, table=True):
    """Key/value facts about the database itself: `schema_version`, `default_pipeline`, learned models."""

    key: str = Field(primary_key=True)
    value: str


class Pipeline(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    created_at: int = Field(sa_type=BigInteger)
    qualification_stage_id: int | None = Field(default=None)


class Stage(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("pipeline_id", "name", name="uq_stage_pipeline_name"),)

    id: int | None = Field(default=None, primary_key=True)
    pipeline_id: int = Field(foreign_key="pipeline.id", ondelete="CASCADE", index=True)
    name: str
    kind: str = "open"  # open | won | lost
    position: int | None = None  # 1..n for open stages; None for outcomes and removed stages
    probability: float | None = None  # configured win probability (a ratio, not money)
    stale_days: int | None = None  # silence limit; None uses config `stale_days`
    triggers: str | None = None  # comma-separated activity kinds that signal readiness to advance
    forecast_category: str | None = None  # the default of its deals without one (commit | best | ...); schema 13
    removed: bool = False  # kept so history that passed through it stays readable


def _where(condition: str) -> dict[str, Any]:
    """Return the Index arguments making an index partial: only rows meeting `condition`, on both backends."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


def _only_on(dialect: str, index: Index) -> Index:
    """Return `index` made one backend's form of it: created only there (see `for_dialect`)."""
    index.info["dialect"] = dialect
    return index.ddl_if(dialect=dialect)


def for_dialect(index: Index, dialect: str) -> bool:
    """Return whether `index` belongs to a database of `dialect` (every index but another backend's form)."""
    return bool(index.info.get("dialect", dialect) == dialect)


class Lead(SQLModel, table=True):
    __table_args__ = (
        # Each index costs every write (and a bulk import a sort of the whole table), so there are only
        # those a command's plan uses, measured without ANALYZE statistics as users' databases are
        # (benchmarks/reports.py); the partial ones hold only the rows their queries can match.
        # import --key email (addresses compared trimmed, as stored, and in any case: `matchkeys.address_key`);
        # since schema 12 on lower(email), the form every lookup by address compares
        Index("ix_lead_email", text("lower(email)"), **_where("email IS NOT NULL")),
        Index("ix_lead_external", "external_id", **_where("external_id IS NOT NULL")),  # import --key external_id
        # Covering indexes for the reports (metrics, funnel, forecast, size): each aggregate reads one index
        # in its GROUP BY order, never the wide lead rows.
        Index("ix_lead_cohort", "pipeline_id", "furthest_position", "status", "created_at", "value_minor"),
        Index("ix_lead_source_created", "pipeline_id", "source", "created_at"),
        Index(
            "ix_lead_outcome",
            "pipeline_id",
            "status",
            "closed_at",
            "created_at",
            "value_minor",
            **_where("closed_at IS NOT NULL"),
        ),
        # ix_lead_open also serves the per-stage counts (it leads with the columns of v1's ix_lead_board and holds
        # value_minor); v1's ix_lead_board and ix_lead_closed were dropped, as every write paid for them.
        Index(
            "ix_lead_open",
            "pipeline_id",
            "status",
            "stage_id",
            "archived_at",
            "value_minor",
            "created_at",
            "expected_close",
            "stage_entered_at",
            "win_probability",
            "forecast_category",
        ),
        # the board's text filter (`ui.cards`); also the planner's way to the open leads (`list --status open`,
        # `today`, `score`). Its twin on lower(trim(email)) went with schema 12: duplicates are found through
        # the stored blocks below, and a bulk import sorted it for nothing.
        Index("ix_lead_dup_name", text("lower(trim(name))"), text("lower(trim(company))"), **_where("status = 'open'")),
        # the duplicate matcher's blocks (`store.matchkeys`, since schema 12): add-lead's check is a lookup in
        # these, and `duplicates` compares only the leads sharing one
        Index("ix_lead_match_email", "match_email", **_where("match_email IS NOT NULL")),
        Index("ix_lead_match_phone", "match_phone", **_where("match_phone IS NOT NULL")),
        Index("ix_lead_match_company", "match_company", **_where("match_company IS NOT NULL")),
        # the owners a TAB offers, most used first (`quick.values`: a scan of this, not of the table), and a
        # seller's own leads under PostgreSQL's row-level security; since schema 17
        Index("ix_lead_by_owner", "owner", **_where("owner IS NOT NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    pipeline_id: int = Field(foreign_key="pipeline.id")
    stage_id: int = Field(foreign_key="stage.id")
    status: str = "open"  # open | won | lost (the kind of the current stage)
    name: str
    company: str | None = None
    email: str | None = None
    phone: str | None = None
    value_minor: int | None = Field(default=None, sa_type=BigInteger)
    source: str | None = None
    owner: str | None = None
    expected_close: _dt.date | None = None
    external_id: str | None = None
    created_at: int = Field(sa_type=BigInteger)
    closed_at: int | None = Field(default=None, sa_type=BigInteger)
    lost_reason: str | None = None
    stage_entered_at: int = Field(sa_type=BigInteger)
    last_activity_at: int | None = Field(default=None, sa_type=BigInteger)
    last_event_at: int = Field(sa_type=BigInteger)  # latest activity or stage change
    furthest_position: int = 1  # the furthest open stage position the lead ever entered
    next_step: str | None = None
    next_step_due: _dt.date | None = None
    snoozed_until: _dt.date | None = None
    snooze_reason: str | None = None
    archived_at: int | None = Field(default=None, sa_type=BigInteger)
    fit_score: float = 0.0
    engagement: float = 0.0  # engagement score as it stood at `engagement_at`; it decays from there
    engagement_at: int | None = Field(default=None, sa_type=BigInteger)
    score: float = 0.0  # fit + engagement, as of the last write that touched the lead
    win_probability: float | None = None  # learned by `score --learn`
    forecast_category: str | None = None  # commit | best | pipeline | omit (None: pipeline); since schema 7
    qualification: str = "incomplete"  # incomplete | qualified | disqualified
    # derived from email, phone and company (`store.matchkeys.match_columns`), written with them, never
    # recorded as events of their own; since schema 12
    match_email: str | None = None
    match_phone: str | None = None
    match_company: str | None = None


class StageChange(SQLModel, table=True):
    """One move of one lead; `from_stage_id` is None for the creation event. `left_at` is set when the
    lead moves on, so time spent in a stage is one subtraction."""

    __tablename__ = "stage_change"
    __table_args__ = (
        # A lead's stays from the index alone: the forecast's hazards seek each history lead's stays here.
        Index("ix_stage_change_lead", "lead_id", "at", "to_stage_id", "left_at"),
        # Time in stage by the hour, per stage, read from the index alone (metrics, forecast, clean).
        Index(
            "ix_stage_change_duration",
            "to_stage_id",
            text("((left_at - at) / 3600)"),
            "left_at",
            "at",
            **_where("left_at IS NOT NULL"),
        ),
        Index("ix_stage_change_left", "to_stage_id", "left_at", "at"),  # recent stays per stage (clean)
    )

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", ondelete="CASCADE")
    from_stage_id: int | None = Field(default=None, foreign_key="stage.id")
    to_stage_id: int = Field(foreign_key="stage.id")
    at: int = Field(sa_type=BigInteger)
    left_at: int | None = Field(default=None, sa_type=BigInteger)
    reason: str | None = None


class Activity(SQLModel, table=True):
    """One touch. Since schema 6 an e-mail captured by `mail sync` also keeps its Message-ID (a content hash
    `sha256:...` when it had none; unique, so a message is logged once however often sync runs), direction
    (`out` sent by the seller, `in` received), subject and, with `--keep-body`, its text."""

    __table_args__ = (
        Index("ix_activity_lead", "lead_id", "at"),
        Index("ux_activity_message", "message_id", unique=True, **_where("message_id IS NOT NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", ondelete="CASCADE")
    kind: str
    note: str | None = None
    at: int = Field(sa_type=BigInteger)
    message_id: str | None = None
    direction: str | None = None  # out | in (mail only)
    subject: str | None = None
    body: str | None = None


class MailSource(SQLModel, table=True):
    """One mailbox `mail sync` reads (a Maildir or mbox path, or an IMAP folder URL without password): its
    IMAP resume point (UIDVALIDITY and the last UID seen), and what `mail status` shows of its syncs."""

    __tablename__ = "mail_source"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(unique=True)
    kind: str  # maildir | mbox | imap
    uidvalidity: int | None = Field(default=None, sa_type=BigInteger)
    last_uid: int | None = Field(default=None, sa_type=BigInteger)
    last_sync_at: int | None = Field(default=None, sa_type=BigInteger)
    logged_total: int = 0
    last_scanned: int = 0
    last_logged: int = 0
    last_matched: int = 0
    last_unmatched: int = 0
    last_error: str | None = None
    last_error_at: int | None = Field(default=None, sa_type=BigInteger)


class MailSeen(SQLModel, table=True):
    """A message of a Maildir source already read (its Maildir key), so a re-sync parses only new files."""

    __tablename__ = "mail_seen"

    source_id: int = Field(foreign_key="mail_source.id", ondelete="CASCADE", primary_key=True)
    key: str = Field(primary_key=True)


class LeadExtra(SQLModel, table=True):
    """Fields an import brought that pipecli has no column for, kept per lead rather than dropped."""

    __tablename__ = "lead_extra"
    __table_args__ = (Index("ix_lead_extra_key", "key", "value"),)

    lead_id: int = Field(foreign_key="lead.id", ondelete="CASCADE", primary_key=True)
    key: str = Field(primary_key=True)
    value: str | None = None


class Qualification(SQLModel, table=True):
    """One BANT answer of one lead: the raw answer, its verdict (yes/no/unknown) and when it was given."""

    lead_id: int = Field(foreign_key="lead.id", ondelete="CASCADE", primary_key=True)
    criterion: str = Field(primary_key=True)  # budget | authority | need | timeline
    answer: str | None = None
    verdict: str = "unknown"
    at: int = Field(sa_type=BigInteger)


class LeadMerge(SQLModel, table=True):
    """One merge (since schema 10): lead `merged_id` folded into lead `lead_id` by `pipecli merge`, in journal
    entry `journal_id`. `fields` (JSON) names the merged lead's details the lead took and the conflicting ones
    it kept. `history` reads it to show the merged lead's earlier events with the lead's own; the merged lead
    is gone (its id has no foreign key), and `undo` of the merge deletes this row and puts that lead back."""

    __tablename__ = "lead_merge"
    __table_args__ = (Index("ix_lead_merge_lead", "lead_id"),)

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", ondelete="CASCADE")
    merged_id: int = Field(sa_type=BigInteger)
    merged_name: str
    journal_id: int = Field(sa_type=BigInteger)
    at: int = Field(sa_type=BigInteger)
    fields: str = "{}"


class Setting(SQLModel, table=True):
    """A setting the team shares (since schema 8): its dotted key (`currency`, `scoring.hot_threshold`), its
    value as JSON, and who set it when (every change is also a journal event, `pipecli settings`)."""

    key: str = Field(primary_key=True)
    value: str
    set_at: int = Field(sa_type=BigInteger)
    set_by: str


class TeamMember(SQLModel, table=True):
    """A member of the team using a PostgreSQL database (since schema 11, `pipecli team`): the database role
    they connect as (also the name a lead's `owner` holds), their role in the team (`seller` sees and changes
    only the leads they own, `manager` every lead of the pipelines they manage, `admin` everything, pipelines,
    stages, settings and the team included), the pipelines it is limited to (comma-separated ids; NULL for
    all), and whether pipecli created the database role (so `team remove` drops only what it made).

    The row-level security policies read this table (`store.access`); on SQLite it stays empty."""

    __tablename__ = "team_member"

    role_name: str = Field(primary_key=True)
    role: str  # seller | manager | admin
    pipelines: str | None = None
    created_role: bool = False
    added_at: int = Field(sa_type=BigInteger)
    added_by: str


class Journal(SQLModel, table=True):
    """One command invocation that changed data: when, who (and, on PostgreSQL, the connection's role),
    the command line; `undoes` names the entry an `undo` reverted, `reverted_by` the undo that reverted this."""

    id: int | None = Field(default=None, primary_key=True)
    at: int = Field(sa_type=BigInteger)
    actor: str
    db_role: str | None = None
    command: str
    undoes: int | None = Field(default=None, sa_type=BigInteger)
    reverted_by: int | None = Field(default=None, sa_type=BigInteger)


class Event(SQLModel, table=True):
    """One change made by one journal entry. `field` is a lead column (`old`/`new` its values as text) or
    `row:<table>` (`old`/`new` the row as JSON: NULL old for an insert, NULL new for a delete). `at` is when
    the change took effect (`--at` backdates it); `lead_id` has no foreign key, so a deleted lead's events stay."""

    __table_args__ = (
        Index("ix_event_lead", "lead_id", "at"),
        Index("ix_event_journal", "journal_id", "lead_id"),  # covering: `undo --list` counts an entry's leads
        Index("ix_event_at", "at"),
        # A past moment's value of a field (`history.field_at_sql`) is one seek: the first change after the moment.
        # Partial, so an import's creation and stage events (nearly all its rows) never enter it. On SQLite it
        # holds `old` too (the reports read only the index); PostgreSQL reads `old` from the row instead, as
        # its index entries are limited to about 2.7 kB and an owner or source is free text.
        _only_on("sqlite", Index("ix_event_as_of", "lead_id", "field", "at", "id", "old", **_where(AS_OF_CONDITION))),
        _only_on("postgresql", Index("ix_event_as_of", "lead_id", "field", "at", "id", **_where(AS_OF_CONDITION))),
    )

    id: int | None = Field(default=None, primary_key=True)
    journal_id: int = Field(foreign_key="journal.id", ondelete="CASCADE", sa_type=BigInteger)
    lead_id: int | None = Field(default=None, sa_type=BigInteger)
    at: int = Field(sa_type=BigInteger)
    field: str
    old: str | None = None
    new: str | None = None


# SNAPSHOT_COLUMNS (the lead columns a creation event carries) is declared in `columns`, read without these models.


def snapshot_sql(dialect: str, alias: str = "lead") -> str:
    """Return the SQL expression of a lead row as the JSON object a creation event holds (dates as text)."""
    return row_json_sql(dialect, "lead", alias, SNAPSHOT_COLUMNS)


def row_json_sql(
    dialect: str,
    table: str,
    alias: str,
    columns: tuple[str, ...] | None = None,
    overrides: dict[str, str] | None = None,
    more: dict[str, str] | None = None,
    as_text: bool = True,
    as_array: bool = False,
) -> str:
    """Return the SQL expression of a row of `table` (as `alias`) as the JSON an event stores
    (`journal.row_json`: dates as ISO text), over `columns` (default: all of them), a column in `overrides`
    given by its SQL instead; `more` adds members given as SQL JSON values; text unless `as_text` is False
    (a JSON value, to nest in another). `as_array`: the values alone, in order (`journal.load_row` reads
    a lead's that way), `more`'s after them.

    It exists so that set-based writers (the import's bulk writer, the migration that began history)
    record the same events as the one-row helpers of `store.journal`."""
    names = columns or tuple(c.name for c in SQLModel.metadata.tables[table].columns)
    dates = {c.name for c in SQLModel.metadata.tables[table].columns if c.type.python_type is _dt.date}
    sqlite = dialect == "sqlite"
    parts = []
    for name in names:
        column = (overrides or {}).get(name) or f"{alias}.{name}"
        if not sqlite and name in dates:
            column = f"to_char({column}, 'YYYY-MM-DD')"
        parts.append(column if as_array else f"'{name}', {column}")
    parts += [value if as_array else f"'{name}', {value}" for name, value in (more or {}).items()]
    if as_array:
        body = f"{'json_array' if sqlite else 'json_build_array'}({', '.join(parts)})"
    else:
        body = f"{'json_object' if sqlite else 'json_build_object'}({', '.join(parts)})"
    return f"CAST({body} AS TEXT)" if as_text and not sqlite else body


def rows_json_sql(dialect: str, table: str, condition: str, columns: tuple[str, ...]) -> str:
    """Return the SQL JSON array of the rows of `table` (as `r`) meeting `condition`, each an array of
    its `columns` (`row_json_sql`)."""
    row = row_json_sql(dialect, table, "r", columns, as_text=False, as_array=True)
    if dialect == "sqlite":
        return f"json((SELECT json_group_array({row}) FROM {table} r WHERE {condition}))"  # json(): kept JSON
    return f"COALESCE((SELECT json_agg({row}) FROM {table} r WHERE {condition}), CAST('[]' AS json))"


METADATA = SQLModel.metadata  # every table above: what migrations create


def tables() -> list[Table]:
    """Return the schema's tables (SQLAlchemy Table objects), parents before children: the one list of
    what a pipecli database holds (copies, counts, the tests' whole-database comparisons)."""
    return list(SQLModel.metadata.sorted_tables)


def lead_tables() -> list[str]:
    """Return every table whose rows belong to one lead (a `lead_id` foreign key), children first; the
    events are not among them: they outlive a deleted lead (only `forget` erases them)."""
    return [t.name for t in reversed(tables()) if "lead_id" in t.c and t.c.lead_id.foreign_keys]
