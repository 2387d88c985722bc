"""Resolving a lead reference as people type it: `12`, `#12`, an exact e-mail or external id, or a fragment
of a name or company that matches exactly one lead. Every command that takes a lead goes through `resolve`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from pipecli import team
from pipecli.errors import NotFound, PipecliError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

# At most this many candidates are listed when a reference is ambiguous (the rest are counted).
SHOWN = 10
ID_MAX = 2**63 - 1


class Ambiguous(PipecliError):
    """A reference matched several leads; `candidates` holds them (id, name, company, stage)."""

    def __init__(self, reference: str, candidates: list[dict[str, Any]], total: int):
        listed = []
        for c in candidates:
            company = f"{c['company']}, " if c["company"] else ""
            listed.append(f"#{c['id']} {c['name']} ({company}{c['stage']})")
        more = f"; and {total - len(candidates)} more" if total > len(candidates) else ""
        # one line, as every error is (a name holding a line break cannot forge another line)
        super().__init__(f"{reference!r} matches {total} leads, give one of them: {'; '.join(listed)}{more}")
        self.candidates = candidates


_CANDIDATES = "SELECT l.id, l.name, l.company, s.name AS stage FROM lead l JOIN stage s ON s.id = l.stage_id WHERE "


def _pattern(fragment: str) -> str:
    escaped = fragment.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _ids(conn: Connection, where: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    sql = _CANDIDATES + where + " ORDER BY l.archived_at IS NOT NULL, l.id"
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def resolve(conn: Connection, reference: str, gone_ok: bool = False) -> int:
    """Return the id of the one lead `reference` names, or raise NotFound (none) or Ambiguous (several).

    An id (`12`, `#12`) must exist; otherwise an exact e-mail or external id wins over a name or company
    fragment, so `anna@rossi.it` never turns ambiguous because another lead's note mentions it. With `gone_ok`
    an id is returned even when its lead is deleted (`history` still has its journal)."""
    ref = reference.strip()
    if not ref:
        raise PipecliError("a lead is needed: an id, #id, e-mail, external id or part of a name")
    digits = ref[1:] if ref.startswith("#") else ref
    if digits.isdigit():
        lead_id = int(digits)
        if lead_id > ID_MAX:
            raise PipecliError(f"id {digits} is too large: no lead has it (the largest id is {ID_MAX})")
        found = conn.execute(text("SELECT 1 FROM lead WHERE id = :i"), {"i": lead_id}).first()
        if found or gone_ok or team.hidden(conn, lead_id):  # a hidden lead: the command says whose it is
            return lead_id
        if ref.startswith("#"):
            raise NotFound(f"no lead with id {digits} (see `pipecli list`)")
    # `ix_lead_email` holds lower(email), `ix_lead_external` external_id: two index lookups
    exact = _ids(conn, "(l.email IS NOT NULL AND lower(l.email) = lower(:r)) OR l.external_id = :r", {"r": ref})
    if len(exact) == 1:
        return int(exact[0]["id"])
    if not exact:
        like = _pattern(ref)
        exact = _ids(
            conn,
            "(lower(l.name) LIKE :p ESCAPE '\\' OR lower(coalesce(l.company, '')) LIKE :p ESCAPE '\\')",
            {"p": like},
        )
        whole = [c for c in exact if c["name"].lower() == ref.lower()]
        if len(whole) == 1:
            return int(whole[0]["id"])
        if len(exact) == 1:
            return int(exact[0]["id"])
    if not exact:
        if digits.isdigit():
            raise NotFound(f"no lead with id {digits} (see `pipecli list`)")
        raise NotFound(f"no lead matches {ref!r} (see `pipecli list --search`)")
    raise Ambiguous(ref, exact[:SHOWN], len(exact))


def search_sql(alias: str = "l") -> str:
    """Return the SQL condition `list --search` uses over `alias` (parameter `:f_search`, a LIKE pattern)."""
    return (
        f"(lower({alias}.name) LIKE :f_search ESCAPE '\\' OR lower(coalesce({alias}.company, '')) LIKE :f_search"
        f" ESCAPE '\\' OR lower(coalesce({alias}.email, '')) LIKE :f_search ESCAPE '\\'"
        f" OR coalesce({alias}.external_id, '') = :f_exact)"
    )


def search_params(fragment: str) -> dict[str, str]:
    """Return the parameters of `search_sql` for what the user typed."""
    return {"f_search": _pattern(fragment.strip()), "f_exact": fragment.strip()}
