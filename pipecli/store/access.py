"""Access control on PostgreSQL: the row-level security policies, the grants of a team member's role, and
who the connection is in the team.

The policies are in the database, so they hold for psql and a raw driver connection as for pipecli. They
key on `current_user` against `team_member` (role name -> team role, pipelines):

- `lead`: visible and changeable when the database has no team yet (every role with grants sees everything,
  as before schema 11), or the role is an `admin` member, a `manager` of the lead's pipeline, or the
  `seller` who owns it (`owner` = the role name). The same condition checks the new row of an INSERT or
  UPDATE, so a seller can neither add a lead for another seller nor give one away.
- the tables of a lead's rows (`schema.lead_tables`: activities, stage history, extra fields, BANT answers):
  the row's lead must be visible (the lead's policy decides).
- `event`: visible when its lead is, when it belongs to no lead (pipelines, settings), or when the role
  wrote it (a deleted lead's events stay with whoever deleted it); inserted only under the role's own
  journal entry. `journal`: the role's own entries and those with an event it sees.
- pipelines, stages, settings, the team and `meta` have no policy: a seller's or manager's role is granted
  only SELECT on them (`grant`), so a change raises "permission denied" rather than silently matching no row.

The database owner (who ran the migration) and superusers bypass the policies, as PostgreSQL does for a
table's owner; `db migrate-to` and the migrations run as the owner. The helper functions are SECURITY
DEFINER where a policy must read a row the role may not see (a journal entry's role, a hidden lead's owner
for the exact "owned by marco" message), with a fixed search_path.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.engine import Connection

from pipecli.errors import PipecliError

ROLES = ("seller", "manager", "admin")
# Tables a seller's or manager's role writes (its leads' rows, the journal, mail it syncs); the rest it reads.
MEMBER_WRITES = ("lead", "journal", "event", "mail_source", "mail_seen")
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
MEMBER_KEY = "pipecli_member"  # Connection.info: the connection's team member, read once per transaction


def _functions(schema: str) -> list[str]:
    """Return the CREATE FUNCTION statements the policies call."""
    in_pipelines = "(m.pipelines IS NULL OR lead_pipeline = ANY (string_to_array(m.pipelines, ',')::bigint[]))"
    definer = f"LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp"
    return [
        # no team, or an admin member: every row
        f"""CREATE OR REPLACE FUNCTION pipecli_free(who text) RETURNS boolean {definer} AS $$
            SELECT NOT EXISTS (SELECT 1 FROM team_member)
                OR EXISTS (SELECT 1 FROM team_member WHERE role_name = who AND role = 'admin') $$""",
        f"""CREATE OR REPLACE FUNCTION pipecli_may_lead(who text, lead_owner text, lead_pipeline bigint)
            RETURNS boolean {definer} AS $$
            SELECT pipecli_free(who) OR EXISTS (
                SELECT 1 FROM team_member m WHERE m.role_name = who AND {in_pipelines}
                AND (m.role = 'manager' OR (m.role = 'seller' AND lead_owner = m.role_name))) $$""",
        # the lead policy's parts that do not depend on the row, each read once per statement (see _policies)
        f"""CREATE OR REPLACE FUNCTION pipecli_seller(who text) RETURNS text {definer} AS $$
            SELECT role_name FROM team_member WHERE role_name = who AND role = 'seller' $$""",
        f"""CREATE OR REPLACE FUNCTION pipecli_manages(who text) RETURNS boolean {definer} AS $$
            SELECT EXISTS (SELECT 1 FROM team_member WHERE role_name = who AND role = 'manager') $$""",
        # NULL for a member of every pipeline (and for a role outside the team, which the two above exclude)
        f"""CREATE OR REPLACE FUNCTION pipecli_member_pipelines(who text) RETURNS bigint[] {definer} AS $$
            SELECT string_to_array(pipelines, ',')::bigint[] FROM team_member WHERE role_name = who $$""",
        f"""CREATE OR REPLACE FUNCTION pipecli_journal_role(entry bigint) RETURNS text {definer} AS $$
            SELECT db_role FROM journal WHERE id = entry $$""",
        # '' for a lead without owner, NULL for no such lead
        f"""CREATE OR REPLACE FUNCTION pipecli_lead_owner(lead_id bigint) RETURNS text {definer} AS $$
            SELECT coalesce(owner, '') FROM lead WHERE id = lead_id $$""",
        f"""CREATE OR REPLACE FUNCTION pipecli_lead_pipeline(lead_id bigint) RETURNS bigint {definer} AS $$
            SELECT pipeline_id FROM lead WHERE id = lead_id $$""",
    ]


def _policies() -> list[str]:
    """Return the statements enabling row-level security and creating the policies."""
    # the models only when the policies are created: opening a database at LATEST does not build them
    from pipecli.store.schema import lead_tables

    me = "current_user::text"
    visible_lead = "EXISTS (SELECT 1 FROM lead l WHERE l.id = {t}.lead_id)"
    # pipecli_may_lead(me, owner, pipeline_id), with what does not depend on the row in scalar subqueries:
    # PostgreSQL runs each once per statement (an InitPlan) instead of calling a function per row, which
    # made a manager's board on 100,000 leads cost 5.2 s of server CPU against the owner's 0.03 s
    # (benchmarks/rls.py; 0.07 s so). A database made before keeps the old, equivalent policies until a
    # migration calls `enable` again.
    pipelines = f"(SELECT pipecli_member_pipelines({me}))"
    may_lead = (
        f"(SELECT pipecli_free({me})) OR ((owner = (SELECT pipecli_seller({me})) OR (SELECT pipecli_manages({me})))"
        f" AND ({pipelines} IS NULL OR pipeline_id = ANY ({pipelines}::bigint[])))"  # the cast: an array, not a subquery
    )
    sql = [
        "ALTER TABLE lead ENABLE ROW LEVEL SECURITY",
        "DROP POLICY IF EXISTS pipecli_lead ON lead",
        f"CREATE POLICY pipecli_lead ON lead USING ({may_lead})",
    ]
    for table in lead_tables():
        sql += [
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS pipecli_{table} ON {table}",
            f"CREATE POLICY pipecli_{table} ON {table} USING ({visible_lead.format(t=table)})",
        ]
    free = f"(SELECT pipecli_free({me}))"  # once per statement, as above
    event_read = (
        f"{free} OR event.lead_id IS NULL OR {visible_lead.format(t='event')}"
        f" OR pipecli_journal_role(event.journal_id) = {me}"
    )
    journal_read = f"{free} OR journal.db_role = {me} OR EXISTS (SELECT 1 FROM event e WHERE e.journal_id = journal.id)"
    for name, table, command, clause in (
        ("event_read", "event", "SELECT", f"USING ({event_read})"),
        ("event_add", "event", "INSERT", f"WITH CHECK ({free} OR pipecli_journal_role(journal_id) = {me})"),
        ("event_change", "event", "UPDATE", f"USING ({free})"),
        ("event_erase", "event", "DELETE", f"USING ({free})"),
        ("journal_read", "journal", "SELECT", f"USING ({journal_read})"),
        ("journal_add", "journal", "INSERT", f"WITH CHECK ({free} OR db_role = {me})"),
        ("journal_change", "journal", "UPDATE", f"USING ({journal_read})"),
        ("journal_erase", "journal", "DELETE", f"USING ({free})"),
    ):
        sql += [
            f"DROP POLICY IF EXISTS pipecli_{name} ON {table}",
            f"CREATE POLICY pipecli_{name} ON {table} FOR {command} {clause}",
        ]
    return sql + ["ALTER TABLE event ENABLE ROW LEVEL SECURITY", "ALTER TABLE journal ENABLE ROW LEVEL SECURITY"]


def enable(conn: Connection) -> None:
    """Create the policies' functions and the row-level security policies (PostgreSQL; nothing on SQLite).
    Run by the migration to schema 11, by a new database's creation and by `db migrate-to`; idempotent."""
    if conn.dialect.name != "postgresql":
        return
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    for statement in _functions(schema) + _policies():
        conn.exec_driver_sql(statement)


def quoted(role_name: str) -> str:
    """Return a checked role name as an SQL identifier; raise for a name pipecli does not create or map
    (lower-case letters, digits and _, starting with a letter or _, at most 63 characters)."""
    if not ROLE_NAME.fullmatch(role_name):
        raise PipecliError(
            f"{role_name!r} cannot be a team member's database role: use lower-case letters, digits and _"
            " (starting with a letter, at most 63 characters)"
        )
    return f'"{role_name}"'


def grant(conn: Connection, role_name: str, role: str) -> None:
    """Grant a member's database role what its team role needs: reading every pipecli table, writing its
    leads' rows, the journal and mail (every table for an admin), and the id sequences."""
    # the models only for a change to the team (see _policies)
    from pipecli.store.schema import lead_tables, tables

    who = quoted(role_name)
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    names = [t.name for t in tables()]
    writes = names if role == "admin" else [*MEMBER_WRITES, *lead_tables()]
    conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {schema} TO {who}")
    conn.exec_driver_sql(f"GRANT SELECT ON {', '.join(names)} TO {who}")
    conn.exec_driver_sql(f"GRANT INSERT, UPDATE, DELETE ON {', '.join(writes)} TO {who}")
    conn.exec_driver_sql(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}")


def revoke(conn: Connection, role_name: str) -> None:
    """Take back every grant `grant` gave a member's database role."""
    # the models only for a change to the team (see _policies)
    from pipecli.store.schema import tables

    who = quoted(role_name)
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    conn.exec_driver_sql(f"REVOKE ALL ON {', '.join(t.name for t in tables())} FROM {who}")
    conn.exec_driver_sql(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {who}")
    conn.exec_driver_sql(f"REVOKE ALL ON SCHEMA {schema} FROM {who}")


def member(conn: Connection) -> tuple[str, str | None]:
    """Return (the connection's database role, its team role) on PostgreSQL: `free` when the database has no
    team (access is the grants alone), else `admin` for the tables' owner and superusers (the policies do not
    apply to them), `seller`/`manager`/`admin` for a member, None for a role outside the team. On SQLite
    ("", "free"): the file's permissions are the access control. Read once per transaction."""
    if conn.dialect.name != "postgresql":
        return "", "free"
    cached = conn.info.get(MEMBER_KEY)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    row = conn.execute(
        text(
            "SELECT current_user::text, r.rolsuper OR pg_has_role(current_user, t.tableowner, 'USAGE'),"
            " (SELECT role FROM team_member WHERE role_name = current_user::text),"
            " NOT EXISTS (SELECT 1 FROM team_member)"
            " FROM pg_roles r, pg_tables t WHERE r.rolname = current_user AND t.tablename = 'lead'"
            " AND t.schemaname = current_schema()"
        )
    ).one()
    name, owner, role, no_team = row
    found = (name, "free" if no_team else "admin" if owner else role)
    conn.info[MEMBER_KEY] = found
    return found


def forget_member(conn: Connection) -> None:
    """Drop the cached team member of a connection (its transaction ended, or the team changed)."""
    conn.info.pop(MEMBER_KEY, None)


def may_change_settings(conn: Connection) -> bool:
    """Return True when the connection may change pipelines, settings, the team and `meta`: an admin member,
    the tables' owner, or anyone while the database has no team (SQLite: always)."""
    return member(conn)[1] in ("admin", "free")


def require_admin(conn: Connection, what: str) -> None:
    """Raise unless the connection may `what` (change pipelines, settings, the team): an admin member, the
    tables' owner, or anyone while the database has no team. The grants are the backstop."""
    name, role = member(conn)
    if role in ("admin", "free"):
        return
    who = f"{role} {name}" if role else f"database role {name} (not in the team)"
    raise PipecliError(f"permission denied: {who} may not {what}: only a team admin may; nothing was changed")
