"""Importing stage history: export it, import it into an empty database, and the history is the same;
a final-state import's invented path is replaced by the real one; bad rows change nothing."""

from __future__ import annotations

import re

from tests.conftest import Cli


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
