"""SQL text helpers shared by every module that writes SQL by hand: reading rows fast, binding lists,
and building CASE expressions from Python mappings, each in one place.
"""

from __future__ import annotations

from sqlalchemy import text


def fetch_rows(conn, sql: str, params: dict) -> list[tuple]:
    """Return all rows of `sql` (named `:params`) as plain tuples. On SQLite it goes straight to the
    driver's cursor, skipping SQLAlchemy's per-row result processing: for reports of hundreds of
    thousands of rows that processing costs more than the query."""
    if conn.dialect.name == "sqlite":
        return conn.connection.driver_connection.execute(sql, params).fetchall()
    from sqlalchemy import text

    return [tuple(r) for r in conn.execute(text(sql), params)]


def execute_in(conn, sql: str, **params):
    """Execute `sql`; parameters given as lists fill `IN :name` (one bound value per item)."""
    from sqlalchemy import bindparam

    lists = [k for k, v in params.items() if isinstance(v, list)]
    stmt = text(sql).bindparams(*(bindparam(k, expanding=True) for k in lists))
    return conn.execute(stmt, params)


def case(column: str, mapping: dict, prefix: str, default: str = "NULL") -> tuple[str, dict]:
    """Return `CASE column WHEN :k THEN :v ... ELSE default END` over `mapping`, with its parameters
    named after `prefix` (distinct per CASE in one statement), so no value is ever written into SQL text."""
    if not mapping:
        return default, {}
    parts, params = [], {}
    for i, (key, value) in enumerate(sorted(mapping.items())):
        parts.append(f"WHEN :{prefix}k{i} THEN :{prefix}v{i}")
        params[f"{prefix}k{i}"], params[f"{prefix}v{i}"] = key, value
    return f"CASE {column} {' '.join(parts)} ELSE {default} END", params
