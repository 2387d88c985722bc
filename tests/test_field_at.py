"""A lead's field at a moment has one rule (`history`): the reports' SQL (`field_at_sql`, as a whole report at
one moment reads it through `reports.state.lead_state`, and as a figure per deal) and the Python replay of one lead's events (`history.state_at`, which `changes` reads) give the same value
at every moment, ties included: an event at the moment itself has happened, and events of one moment count
in the order they were recorded.

The history, built through the CLI (PIPECLI_NOW 2026-11-20 09:00):
    lead A created 2026-11-01 10:00 with value 100 and owner bob;
    2026-11-05 12:00: value 100 -> 200, then (same moment) 200 -> 300, owner bob -> carl;
    2026-11-08 09:00: value 300 -> 50.
    lead B created 2026-11-06 08:00 with value 70 (absent before), deleted 2026-11-20 09:00.
"""

from __future__ import annotations

from sqlalchemy import text

from pipecli import clock, history
from pipecli.reports import state

FIELDS = ("value_minor", "owner")


def _build(cli, monkeypatch) -> tuple[int, int]:
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-20 09:00")
    a = int(cli("add-lead", "A", "--value", "100", "--owner", "bob", "--at", "2026-11-01 10:00").stdout)
    cli("edit", a, "--value", "200", "--at", "2026-11-05 12:00")
    cli("edit", a, "--value", "300", "--owner", "carl", "--at", "2026-11-05 12:00")
    cli("edit", a, "--value", "50", "--at", "2026-11-08 09:00")
    b = int(cli("add-lead", "B", "--value", "70", "--at", "2026-11-06 08:00").stdout)
    cli("delete", b, "--yes")
    return a, b


def _both(conn, lead_id: int, moment: int) -> tuple[dict | None, dict | None]:
    """Return the lead's FIELDS at `moment` by the Python replay and by the reports' SQL (None when absent
    for Python; the SQL only reads leads that exist now)."""
    events = conn.execute(
        text(f"SELECT at, field, old, new FROM event WHERE lead_id = :l ORDER BY {', '.join(history.EVENT_ORDER)}"),
        {"l": lead_id},
    ).all()
    row = conn.execute(text("SELECT * FROM lead WHERE id = :l"), {"l": lead_id}).mappings().first()
    python = history.state_at([tuple(e) for e in events], FIELDS, moment, dict(row) if row else None)
    sql = conn.execute(
        text(
            f"SELECT {history.field_at_sql('value_minor', 'l', ':asof', 'BIGINT')},"
            f" {history.field_at_sql('owner', 'l', ':asof')} FROM lead l WHERE l.id = :l"
        ),
        {"l": lead_id, "asof": moment},
    ).first()
    rel, params = state.lead_state(1, moment, conn.dialect.name)
    report = conn.execute(
        text(f"SELECT value_minor, owner FROM {rel} s WHERE s.id = :l"), {**params, "l": lead_id}
    ).first()
    if sql is not None and python is not None:
        assert tuple(report) == tuple(sql)  # the report's relation at one moment and the per-deal SQL agree
    return python, None if sql is None else {"value_minor": str(sql[0]), "owner": sql[1]}


def test_the_sql_and_the_python_rule_agree_at_every_moment_ties_included(cli, monkeypatch):
    a, b = _build(cli, monkeypatch)
    ts = clock.parse_ts
    store = cli.store()
    try:
        with store.read() as conn:
            moments = {m for (m,) in conn.execute(text("SELECT DISTINCT at FROM event"))}
            for moment in sorted(moments | {m - 1 for m in moments} | {m + 1 for m in moments}):
                python, sql = _both(conn, a, moment)
                if moment < ts("2026-11-01 10:00"):
                    assert python is None
                    continue
                assert python == sql, clock.show(moment)
            # worked out from the history above
            assert _both(conn, a, ts("2026-11-05 11:59"))[0] == {"value_minor": "10000", "owner": "bob"}
            # both edits of 12:00 have happened at 12:00: the later one (by id) holds
            assert _both(conn, a, ts("2026-11-05 12:00"))[0] == {"value_minor": "30000", "owner": "carl"}
            assert _both(conn, a, ts("2026-11-08 08:59"))[1] == {"value_minor": "30000", "owner": "carl"}
            assert _both(conn, a, ts("2026-11-08 09:00"))[1] == {"value_minor": "5000", "owner": "carl"}
            # a deleted lead: absent before its creation, as created until its deletion, absent after
            assert history.state_at(_events(conn, b), FIELDS, ts("2026-11-06 07:59"), None) is None
            assert history.state_at(_events(conn, b), FIELDS, ts("2026-11-10 00:00"), None) == {
                "value_minor": "7000",
                "owner": None,
            }
            assert history.state_at(_events(conn, b), FIELDS, ts("2026-11-20 09:00"), None) is None
    finally:
        store.dispose()


def _events(conn, lead_id: int) -> list[tuple]:
    return [
        tuple(e)
        for e in conn.execute(
            text("SELECT at, field, old, new FROM event WHERE lead_id = :l ORDER BY at, id"), {"l": lead_id}
        )
    ]
