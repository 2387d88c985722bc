"""Importing stage history: export it, import it into an empty database, and the history is the same;
a final-state import's invented path is replaced by the real one; bad rows change nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pipecli import clock
from tests.conftest import Cli

FIXTURES = Path(__file__).parent / "fixtures"


def import_history(cli, csv_text: str, key: str | None = None) -> dict:
    """Run `pipecli import - --history` on `csv_text` and return the counts it says."""
    args = ["import", "-", "--history"] + (["--key", key] if key else [])
    result = cli(*args, input=csv_text, ok=False)
    if result.exit_code:
        raise ValueError(result.stderr)
    created, rebuilt, changes = re.findall(r"\d+", result.stderr.split("history:")[1])
    return {"created": int(created), "rebuilt": int(rebuilt), "stage_changes": int(changes)}


def test_round_trip_export_history_into_an_empty_database(tmp_path, monkeypatch):
    source = Cli(str(tmp_path / "a.db"))
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-20 09:00")
    a = source("add-lead", "Anna", "--at", "2026-10-01 10:00").stdout.strip()
    b = source("add-lead", "Bea", "--stage", "Contact", "--at", "2026-10-02 10:00").stdout.strip()
    source("move", a, "Meeting", "--at", "2026-10-05 10:00")
    source("move", a, "Contact", "--at", "2026-10-06 10:00")  # back
    source("move", a, "lost", "--reason", "price", "--at", "2026-10-09 10:00")
    source("move", b, "won", "--at", "2026-10-10 10:00")
    exported = source("export", "--what", "history", "--format", "csv").stdout
    target = Cli(str(tmp_path / "b.db"))
    target("db", "init")  # an empty database
    counts = import_history(target, exported)
    assert counts == {"created": 2, "rebuilt": 0, "stage_changes": 6}
    assert target("export", "--what", "history", "--format", "csv").stdout == exported
    from tests.test_history import problems

    assert problems(target) == []


def test_a_final_state_row_gets_its_real_path(tmp_path, monkeypatch):
    cli = Cli(str(tmp_path / "p.db"))
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-20 09:00")
    cli("import", "-", input="name,external_id,stage,created_at\nDeal 1,D1,Prospecting,2026-10-01\n")
    lead = cli.scalar("SELECT id FROM lead WHERE external_id = 'D1'")
    history = (
        "deal,stage,at\nD1,Prospecting,2026-10-01\nD1,Meeting,2026-10-04\nD1,Proposal,2026-10-08\nD1,won,2026-10-12\n"
    )
    counts = import_history(cli, history, key="external_id")
    assert counts == {"created": 0, "rebuilt": 1, "stage_changes": 4}
    path = cli.sql(
        "SELECT s.name FROM stage_change c JOIN stage s ON s.id = c.to_stage_id WHERE c.lead_id = :l ORDER BY c.at",
        l=lead,
    )
    assert [r[0] for r in path] == ["Prospecting", "Meeting", "Proposal", "won"]
    assert cli.scalar("SELECT status FROM lead WHERE id = :l", l=lead) == "won"
    assert cli.scalar("SELECT furthest_position FROM lead WHERE id = :l", l=lead) == 5


def test_a_bad_row_changes_nothing(tmp_path):
    cli = Cli(str(tmp_path / "p.db"))
    cli("db", "init")
    before = cli.every_row()
    assert cli("import", "missing.csv", "--history", ok=False).exit_code == 2
    for bad, message in (
        ("deal,stage,at\nD1,Prospecting,2026-10-01\nD1,Nowhere,2026-10-02\n", "Nowhere"),
        ("deal,stage,at\nD1,Prospecting,not a date\n", "line 2"),
        ("stage,at\nProspecting,2026-10-01\n", "deal key"),
    ):
        try:
            import_history(cli, bad)
        except ValueError as exc:
            assert message in str(exc) and str(exc).count("\n") == 1
        else:
            raise AssertionError(f"accepted {bad!r}")
        assert cli.every_row() == before


# --- imports record true history (issues 12 and 15) -------------------------------------------------------

DAY = 86400


def crm_final_states(prospecting: int, engaging: int, won: int, lost: int) -> tuple[str, dict]:
    """Return a final-state-only CRM export shaped like the issue's 8,800-deal one (Prospecting / Engaging /
    Won / Lost, engage and close dates only), and each deal's (created, closed) epoch seconds by id."""
    import datetime as dt

    start = dt.date(2026, 1, 5)
    lines = ["opportunity_id,sales_agent,account,deal_stage,engage_date,close_date,close_value"]
    dates: dict[str, tuple[int | None, int | None]] = {}
    k = 0
    for stage, n in (("Prospecting", prospecting), ("Engaging", engaging), ("Won", won), ("Lost", lost)):
        for _ in range(n):
            k += 1
            engage = None if stage == "Prospecting" else start + dt.timedelta(days=k % 60)
            close = engage + dt.timedelta(days=10 + k % 7) if engage and stage in ("Won", "Lost") else None
            value = str(1000 + k) if stage == "Won" else ""
            lines.append(f"D{k},Agent {k % 3},Account {k},{stage},{engage or ''},{close or ''},{value}")
            ts = lambda d: None if d is None else int(dt.datetime(d.year, d.month, d.day).timestamp())  # noqa: E731
            dates[f"D{k}"] = (ts(engage), ts(close))
    return "\n".join(lines) + "\n", dates


def test_a_final_state_export_invents_no_passages_and_reports_leave_unknown_paths_out(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-20 09:00")
    monkeypatch.setenv("PIPECLI_USER", "ana")
    monkeypatch.setenv("TZ", "UTC")
    n_prospecting, n_engaging, n_won, n_lost = 5, 16, 42, 25
    body, dates = crm_final_states(n_prospecting, n_engaging, n_won, n_lost)
    path = tmp_path / "sales_pipeline.csv"
    path.write_text(body)
    cli("pipeline", "add", "CRM", "--stages", "Prospecting,Engaging")
    cli("import", str(path), "--pipeline", "CRM")
    closed = n_won + n_lost

    # no closed deal has a stay in an open stage: each entered its outcome from nowhere at its close date
    rows = cli.sql(
        "SELECT l.external_id, c.from_stage_id, s.kind, c.at, c.left_at FROM stage_change c "
        "JOIN lead l ON l.id = c.lead_id JOIN stage s ON s.id = c.to_stage_id WHERE l.status <> 'open'"
    )
    assert len(rows) == closed
    assert all(f is None and kind in ("won", "lost") and left is None for _, f, kind, _, left in rows)
    assert all(at == dates[ext][1] for ext, _, _, at, _ in rows)
    assert cli.scalar("SELECT COUNT(*) FROM lead WHERE status <> 'open' AND furthest_position <> 0") == 0
    assert cli.scalar("SELECT COUNT(*) FROM stage_change c WHERE c.left_at IS NOT NULL") == 0  # no stay invented

    # the funnel counts only known paths (the open deals), and says how many it left out
    result = cli("funnel", "--pipeline", "CRM", "--format", "json")
    stages = {s["stage"]: s for s in json.loads(result.stdout)}
    known = n_prospecting + n_engaging
    assert stages["Prospecting"]["reached"] == known
    assert stages["Engaging"]["reached"] == n_engaging
    assert stages["Prospecting"]["conversion"] == n_engaging / known
    assert stages["Engaging"]["conversion"] == 0.0  # no deal with a known path was won (not 100 %)
    assert stages["won"]["reached"] == n_won
    assert f"{closed} won or lost deals with no known stage path" in result.stderr

    # every lead and every move is an event of the import's journal entry, by its author; replay agrees
    from tests.test_history import problems

    assert problems(cli) == []
    entries = cli.sql(
        "SELECT DISTINCT j.actor, j.command FROM event e JOIN journal j ON j.id = e.journal_id WHERE e.lead_id IS NOT NULL"
    )
    assert len(entries) == 1 and entries[0][0] == "ana" and "import" in entries[0][1]
    assert cli.scalar("SELECT COUNT(*) FROM event WHERE field = 'row:lead'") == len(dates)
    status = cli.sql("SELECT l.external_id, e.old, e.new, e.at FROM event e JOIN lead l ON l.id = e.lead_id "
                     "WHERE e.field = 'status'")  # fmt: skip
    assert len(status) == closed and all(old == "open" and at == dates[ext][1] for ext, old, _, at in status)
    won_id = cli.scalar("SELECT id FROM lead WHERE external_id = 'D30'")
    shown = json.loads(cli("history", won_id, "--format", "json").stdout)
    assert [(c["field"], c["to"]) for c in shown] == [("created", None), ("stage", "won")]

    # undo takes the whole import back
    cli("undo", "--yes")
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0
    assert cli.scalar("SELECT COUNT(*) FROM stage_change") == 0


def test_hubspot_date_entered_columns_become_the_deals_stage_path(cli, monkeypatch):
    import csv
    import datetime as dt

    monkeypatch.setenv("PIPECLI_NOW", "2026-11-20 09:00")
    monkeypatch.setenv("TZ", "UTC")
    fixture = FIXTURES / "crm" / "hubspot_deals.csv"
    cli("import", str(fixture))

    def ts(cell: str) -> int:
        return int(dt.datetime.fromisoformat(cell).replace(tzinfo=dt.UTC).timestamp())

    with fixture.open() as f:
        deals = list(csv.DictReader(f))
    contact, proposal = 'Date entered "Contact (Sales Pipeline)"', 'Date entered "Proposal (Sales Pipeline)"'
    rossi = next(d for d in deals if d["Deal Name"] == "Rossi renewal")
    lead = cli.scalar("SELECT id FROM lead WHERE external_id = :e", e=rossi["Record ID"])
    path = cli.sql(
        "SELECT f.name, s.name, c.at, c.left_at FROM stage_change c JOIN stage s ON s.id = c.to_stage_id "
        "LEFT JOIN stage f ON f.id = c.from_stage_id WHERE c.lead_id = :l ORDER BY c.at",
        l=lead,
    )
    c_at, p_at, won_at = ts(rossi[contact]), ts(rossi[proposal]), ts(rossi["Close Date"])
    assert path == [
        (None, "Contact", c_at, p_at),
        ("Contact", "Proposal", p_at, won_at),
        ("Proposal", "won", won_at, None),
    ]
    position = cli.scalar("SELECT position FROM stage WHERE name = 'Proposal'")
    assert cli.scalar("SELECT furthest_position FROM lead WHERE id = :l", l=lead) == position
    extras = cli.sql("SELECT key FROM lead_extra WHERE lead_id = :l", l=lead)
    assert not any(k.startswith("Date entered") for (k,) in extras)  # read as history, not kept as extras
    metrics = json.loads(cli("metrics", "--format", "json").stdout)
    time_in = {s["stage"]: s for s in metrics["stages"]}
    # Contact's stays: Rossi's 36 days, Acme's until it was lost, Globex's none (moved on when dated)
    assert time_in["Contact"]["time_median_days"] == (p_at - c_at) / DAY
    from tests.test_history import problems

    assert problems(cli) == []


def test_generic_stage_date_columns_and_an_unknown_stage_column(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-20 09:00")
    monkeypatch.setenv("TZ", "UTC")
    good = tmp_path / "deals.csv"
    good.write_text(
        "name,stage,created,close date,date entered Meeting,proposal date\n"
        "Anna,won,2026-01-01,2026-03-01,2026-01-10,2026-02-01\n"
        "Bea,Proposal,2026-02-01,,2026-02-05,2026-02-20\n"
    )
    cli("import", str(good))
    rows = cli.sql(
        "SELECT l.name, s.name, c.at FROM stage_change c JOIN lead l ON l.id = c.lead_id "
        "JOIN stage s ON s.id = c.to_stage_id ORDER BY l.id, c.at"
    )
    day0 = 1767225600  # 2026-01-01T00:00:00Z
    assert rows == [
        ("Anna", "Meeting", day0 + 9 * DAY),
        ("Anna", "Proposal", day0 + 31 * DAY),
        ("Anna", "won", day0 + 59 * DAY),
        ("Bea", "Meeting", day0 + 35 * DAY),
        ("Bea", "Proposal", day0 + 50 * DAY),
    ]
    before = cli.every_row()
    bad = tmp_path / "bad.csv"
    bad.write_text('name,stage,Date entered "Nowhere (Sales Pipeline)"\nCarla,Contact,2026-01-01\n')
    result = cli("import", str(bad), ok=False)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "Nowhere" in result.stderr and "--map" in result.stderr
    assert cli.every_row() == before


def test_an_upsert_records_its_changes_and_undo_restores_them(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-20 09:00")
    first = tmp_path / "a.csv"
    first.write_text("name,external_id,value,region\nAnna,A1,100,north\n")
    cli("import", str(first), "--key", "external_id")
    before = cli.every_row()
    second = tmp_path / "b.csv"
    second.write_text("name,external_id,value,region\nAnna,A1,250,south\n")
    cli("import", str(second), "--key", "external_id")
    lead = cli.scalar("SELECT id FROM lead WHERE external_id = 'A1'")
    changed = json.loads(cli("history", lead, "--format", "json").stdout)
    assert ("value", "€100.00", "€250.00") in [(c["field"], c["from"], c["to"]) for c in changed]
    assert ("extra region", "north", "south") in [(c["field"], c["from"], c["to"]) for c in changed]
    from tests.test_history import problems

    assert problems(cli) == []
    cli("undo", "--yes")
    after = cli.every_row()
    assert after["lead"] == before["lead"] and after["lead_extra"] == before["lead_extra"]


# --- upserts: each changed field an event, exactly as `move` and `edit` record it ------------------------

UPSERT_HEADER = "name,external_id,value,stage,owner,source,close_date,lost_reason\n"
FIRST_ROWS = (
    "Anna,A1,100,Prospecting,bob,web,2026-12-01,\n"
    "Bea,B1,200,Contact,bob,web,2026-12-05,\n"
    "Cid,C1,300,lost,bob,web,2026-11-10,too pricey\n"
)
# Anna: value 100 -> 150, owner bob -> carl, Prospecting -> Meeting, expected close -> 2026-12-10; Bea: as
# she was; Cid: still lost, the reason "too pricey" -> "no budget".
SECOND_ROWS = (
    "Anna,A1,150,Meeting,carl,web,2026-12-10,\n"
    "Bea,B1,200,Contact,bob,web,2026-12-05,\n"
    "Cid,C1,300,lost,bob,web,2026-11-10,no budget\n"
)


def _second_cli(backend, tmp_path, request) -> Cli:
    """Return a Cli on a second fresh database of the test's backend."""
    if backend == "sqlite":
        other = Cli(str(tmp_path / "by-hand.db"))
        other("db", "init")
        return other
    server = request.getfixturevalue("pg_server")
    name = server.fresh()
    request.addfinalizer(lambda: server.drop(name))
    return Cli(server.url_of(name))


def test_an_upsert_records_each_changed_field_as_move_and_edit_would(cli, backend, tmp_path, request, monkeypatch):
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-20 09:00")
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(UPSERT_HEADER + FIRST_ROWS)
    second.write_text(UPSERT_HEADER + SECOND_ROWS)
    by_hand = _second_cli(backend, tmp_path, request)
    for db in (cli, by_hand):
        db("import", str(first), "--key", "external_id")
    anna, bea, cid = (cli.scalar("SELECT id FROM lead WHERE external_id = :k", k=k) for k in ("A1", "B1", "C1"))
    before = cli.every_row()

    monkeypatch.setenv("PIPECLI_NOW", "2026-11-21 10:00")
    monkeypatch.setenv("PIPECLI_USER", "marta")
    said = cli("import", str(second), "--key", "external_id")
    assert "0 inserted, 2 updated, 1 unchanged" in said.stderr
    # the same changes made by hand, in the order the upsert makes them (the move, then the fields)
    by_hand("move", anna, "Meeting")
    by_hand("edit", anna, "--value", "150", "--owner", "carl", "--expected-close", "2026-12-10")
    by_hand("edit", cid, "--lost-reason", "no budget")

    upserted = cli.sql(
        "SELECT lead_id, at, field, old, new FROM event WHERE journal_id = (SELECT MAX(id) FROM journal)"
    )
    by_hand_events = by_hand.sql(
        "SELECT lead_id, at, field, old, new FROM event WHERE journal_id > (SELECT MIN(id) FROM journal)"
    )
    key = lambda r: tuple("" if v is None else str(v) for v in r)  # noqa: E731
    assert sorted(upserted, key=key) == sorted(by_hand_events, key=key)
    moved_at = clock.parse_ts("2026-11-21 10:00")
    fields = {(r[0], r[2]): (r[3], r[4]) for r in upserted}
    assert fields[(anna, "value_minor")] == ("10000", "15000")
    assert fields[(anna, "owner")] == ("bob", "carl")
    assert fields[(anna, "expected_close")] == ("2026-12-01", "2026-12-10")
    assert fields[(anna, "stage_id")][1] == str(cli.scalar("SELECT id FROM stage WHERE name = 'Meeting'"))
    assert fields[(cid, "lost_reason")] == ("too pricey", "no budget")
    assert {r[1] for r in upserted} == {moved_at}
    assert bea not in {r[0] for r in upserted}  # unchanged: nothing recorded
    assert not {(anna, f) for f in ("name", "source")} & fields.keys()  # unchanged fields record nothing

    # the stage history is the one `move` gives, and `history` shows who made each change with which command
    history = {k: json.loads(db("export", "--format", "json", "--what", "history").stdout) for k, db in
               (("upsert", cli), ("by hand", by_hand))}  # fmt: skip
    assert history["upsert"] == history["by hand"]
    shown = json.loads(cli("history", anna, "--format", "json").stdout)
    latest = [(c["field"], c["from"], c["to"], c["who"]) for c in shown if c["at"].startswith("2026-11-21")]
    assert ("stage", "Prospecting", "Meeting", "marta") in latest
    assert ("value", "€100.00", "€150.00", "marta") in latest
    assert ("owner", "bob", "carl", "marta") in latest
    assert all("import" in c["command"] for c in shown if c["at"].startswith("2026-11-21"))
    assert cli.verify() == []

    # a re-import of the same file changes nothing and records nothing
    rows_after = cli.every_row()
    monkeypatch.setenv("PIPECLI_NOW", "2026-11-22 10:00")
    again = cli("import", str(second), "--key", "external_id")
    assert "0 updated, 3 unchanged" in again.stderr
    assert cli.every_row() == rows_after

    # undo takes the whole upsert back, stage history included
    listed = json.loads(cli("undo", "--list", "--format", "json").stdout)
    assert listed[0]["command"].endswith(f"import {second} --key external_id")
    cli("undo", "--yes")
    after_undo = cli.every_row()
    for table in ("lead", "stage_change", "lead_extra"):
        assert after_undo[table] == before[table], table
    assert cli.verify() == []
