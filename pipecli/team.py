"""The team on a PostgreSQL database: `pipecli team add|list|remove`, and who may see and change a lead.

A member is a PostgreSQL role (created by `team add`, or an existing one mapped with `--existing`) with a
team role: a `seller` sees and changes only the leads they own, a `manager` every lead of the pipelines
they manage (all of them when none are named), an `admin` everything, and only an admin changes
pipelines, stages, settings and the team. The database enforces it (`store.access`: row-level security
and grants); the core checks first, so a refusal names its real cause ("seller anna may not change lead 12
(owned by marco)") instead of a lead that seems not to exist.

With a team, a lead's `owner` names a member (a role name); a seller's new lead is theirs unless said
otherwise. On SQLite, and on a PostgreSQL database with no member yet, `owner` stays free text: there the
file's permissions (or the grants) are the access control.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

from pipecli import clock, pipelines
from pipecli.errors import NotFound, PipecliError, UsageError
from pipecli.store import access, journal

SQLITE = (
    "a team needs a PostgreSQL database: on SQLite the file's permissions are the access control"
    " (share it through a group-writable folder, or move it with `pipecli db migrate-to postgresql://...`)"
)


@dataclass(frozen=True)
class Member:
    """A team member as `team list` shows it: the database role, its team role, the pipelines it is limited
    to (names; empty for all), whether pipecli created the role, who added it when, and whether the role
    still exists on the server."""

    name: str
    role: str
    pipelines: list[str]
    created_role: bool
    added_at: int
    added_by: str
    role_exists: bool


@dataclass(frozen=True)
class Removed:
    """A member just removed: the member, how many leads still name it as owner, whether its role was dropped."""

    member: Member
    owned_leads: int
    role_dropped: bool


def _require_postgresql(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        raise PipecliError(SQLITE)


def members(conn: Connection) -> list[Member]:
    """Return the team's members by name (none on a database without a team); raise on SQLite."""
    _require_postgresql(conn)
    names = {p["id"]: p["name"] for p in pipelines.list_pipelines(conn)}
    rows = conn.execute(
        text(
            "SELECT m.*, EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = m.role_name) AS role_exists"
            " FROM team_member m ORDER BY m.role_name"
        )
    ).mappings()
    return [
        Member(
            r["role_name"],
            r["role"],
            [names.get(int(i), f"#{i}") for i in (r["pipelines"] or "").split(",") if i],
            bool(r["created_role"]),
            int(r["added_at"]),
            r["added_by"],
            bool(r["role_exists"]),
        )
        for r in rows
    ]


def _member(conn: Connection, name: str) -> Member:
    for m in members(conn):
        if m.name == name.strip().lower():
            return m
    known = ", ".join(m.name for m in members(conn)) or "none yet"
    raise NotFound(f"{name!r} is not a member of the team (members: {known}); see `pipecli team list`")


def add(
    conn: Connection, name: str, role: str, pipeline_names: list[str] | None = None, existing: bool = False
) -> Member:
    """Add a member: create the PostgreSQL role `name` (LOGIN, no password: set one with ALTER ROLE where the
    server asks for passwords), or map the existing role with `existing`; grant it what `role` needs; return
    the member. Admin only."""
    _require_postgresql(conn)
    access.require_admin(conn, "change the team")
    name = name.strip().lower()
    who = access.quoted(name)
    role = role.strip().lower()
    if role not in access.ROLES:
        raise UsageError(f"--role must be one of {', '.join(access.ROLES)}, not {role!r}")  # a fixed set: exit 2
    if conn.execute(text("SELECT 1 FROM team_member WHERE role_name = :n"), {"n": name}).first():
        raise PipecliError(f"{name} is already a member of the team (see `pipecli team list`)")
    ids = [pipelines.get_pipeline(conn, p.strip())["id"] for p in pipeline_names or [] if p.strip()]
    found = conn.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = :n"), {"n": name}).first()
    if existing and found is None:
        raise NotFound(f"--existing: no database role {name} on this server; leave out --existing to create it")
    if not existing and found is not None:
        raise PipecliError(f"database role {name} exists already: add --existing to map it to the team")
    if found is not None and found[0]:
        raise PipecliError(f"database role {name} is a superuser: row-level security cannot limit it")
    if not existing:
        conn.exec_driver_sql(f"CREATE ROLE {who} LOGIN")
    me, _role = access.member(conn)
    journal.insert_row(
        conn,
        "team_member",
        {
            "role_name": name,
            "role": role,
            "pipelines": ",".join(str(i) for i in ids) or None,
            "created_role": not existing,
            "added_at": clock.now_ts(),
            "added_by": me,
        },
    )
    access.grant(conn, name, role)
    access.forget_member(conn)
    return _member(conn, name)


def remove(conn: Connection, name: str) -> Removed:
    """Remove a member: take back its grants and drop its database role when `team add` created it (kept when
    the role owns objects elsewhere); its leads keep their owner, seen by managers and admins. Admin only."""
    _require_postgresql(conn)
    access.require_admin(conn, "change the team")
    gone = _member(conn, name)
    journal.delete_rows(conn, "team_member", {"role_name": gone.name})
    if gone.role_exists:
        access.revoke(conn, gone.name)
    dropped = False
    if gone.created_role and gone.role_exists:
        savepoint = conn.begin_nested()
        try:
            conn.exec_driver_sql(f"DROP ROLE {access.quoted(gone.name)}")
            savepoint.commit()
            dropped = True
        except Exception:  # still holds privileges or objects in another database: the role stays
            savepoint.rollback()
    owned = conn.execute(text("SELECT COUNT(*) FROM lead WHERE owner = :o"), {"o": gone.name}).scalar_one()
    access.forget_member(conn)
    return Removed(gone, int(owned), dropped)


def me(conn: Connection, fallback: str) -> str:
    """Return the owner name `list --mine` means: the database role on PostgreSQL with a team, else `fallback`
    (the actor: --as, $PIPECLI_USER, config `user`, the login)."""
    name, role = access.member(conn)
    return fallback if role == "free" else name


def check_owner(conn: Connection, owner: str | None, adding: bool) -> str | None:
    """Return the owner a lead may be given: with a team, a member's role name (a seller's new lead is their
    own by default, and a seller may not give a lead to someone else); without one, the text as typed.
    Raise naming the members for an owner outside the team."""
    name, role = access.member(conn)
    if role == "free":
        return owner
    return _owner_among(name, role, [m.name for m in members(conn)], owner, adding, "--owner")


def _owner_among(me: str, role: str | None, known: list[str], owner: str | None, adding: bool, what: str) -> str | None:
    """Return the owner role `role` (the connection's role `me`) may give a lead, among the members `known`."""
    if owner is None or not owner.strip():
        return me if adding and role == "seller" else None
    wanted = owner.strip().lower()
    if wanted not in known:
        raise PipecliError(
            f"{what} {owner.strip()} is not a member of the team (members: {', '.join(known)}); see `pipecli team list`"
        )
    if role == "seller" and wanted != me:
        raise PipecliError(f"permission denied: seller {me} may not give a lead to {wanted}; nothing was changed")
    return wanted


def owner_checker(conn: Connection) -> Callable[[str | None], str | None] | None:
    """Return the check of each imported row's owner (None when the database has no team: owner stays free
    text): it returns the owner the row's lead gets, as `check_owner` for a new lead, and raises naming the
    members, or the seller's right, for an owner the connection's role may not give a lead. The team is
    read once, so the check costs nothing per row but a lookup."""
    name, role = access.member(conn)
    if role == "free":
        return None
    known = [m.name for m in members(conn)]
    return lambda owner: _owner_among(name, role, known, owner, True, "owner")


def hidden(conn: Connection, lead_id: int) -> bool:
    """Return True when lead `lead_id` exists but the connection's role may not see it (the policies hide it)."""
    if conn.dialect.name != "postgresql":
        return False
    return conn.execute(text("SELECT pipecli_lead_owner(:i)"), {"i": lead_id}).scalar() is not None


def refuse(conn: Connection, lead_id: int, verb: str) -> PipecliError:
    """Return the error for lead `lead_id` not being visible: "permission denied: seller anna may not change
    lead 12 (owned by marco)" when it exists but the role may not `verb` it, else NotFound."""
    owner = (
        conn.execute(text("SELECT pipecli_lead_owner(:i)"), {"i": lead_id}).scalar()
        if conn.dialect.name == "postgresql"
        else None
    )
    if owner is None:
        return NotFound(f"no lead with id {lead_id} (see `pipecli list`)")
    name, role = access.member(conn)
    whose = f"owned by {owner}" if owner else "owned by no one"
    if role == "manager":
        pid = conn.execute(text("SELECT pipecli_lead_pipeline(:i)"), {"i": lead_id}).scalar()
        pipeline = conn.execute(text("SELECT name FROM pipeline WHERE id = :p"), {"p": pid}).scalar()
        whose = f"in pipeline {pipeline}, which {name} does not manage"
    who = f"{role} {name}" if role else f"database role {name} (not in the team)"
    unchanged = "; nothing was changed" if verb == "change" else ""
    return PipecliError(f"permission denied: {who} may not {verb} lead {lead_id} ({whose}){unchanged}")
