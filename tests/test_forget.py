"""`pipecli forget EMAIL|ID`: a person erased completely, down to the bytes of the database file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipecli.store.schema import lead_tables

SECRETS = ("Wilhelmina Quasthoff", "w.quasthoff@example.org", "+49 30 5550199", "allergic to peanuts")


def _person(cli) -> int:
    lead = int(
        cli(
            "add-lead",
            SECRETS[0],
            "--email",
            SECRETS[1],
            "--phone",
            SECRETS[2],
            "--value",
            "900",
            "--note",
            SECRETS[3],
            "--at",
            "2026-11-01",
        ).stdout
    )
    cli("move", lead, "Contact", "--at", "2026-11-02")
    cli("log", lead, "call", "--note", f"{SECRETS[3]} (again)", "--at", "2026-11-03")
    cli.execute(
        "INSERT INTO lead_extra (lead_id, key, value) VALUES (:l, 'linkedin', :v)",
        l=lead,
        v="linkedin.com/in/" + SECRETS[0].replace(" ", ""),
    )
    cli.execute(
        "INSERT INTO qualification (lead_id, criterion, answer, verdict, at) VALUES (:l, 'budget', :a, 'yes', 1)",
        l=lead,
        a=SECRETS[3],
    )
    return lead


def _rows_about(cli, lead: int) -> int:
    return sum(cli.scalar(f"SELECT COUNT(*) FROM {t} WHERE lead_id = :l", l=lead) for t in lead_tables()) + cli.scalar(
        "SELECT COUNT(*) FROM lead WHERE id = :l", l=lead
    )


def test_forget_by_email_erases_every_row(cli):
    keep = int(cli("add-lead", "Kept Person", "--email", "kept@example.org", "--note", "stays").stdout)
    first = _person(cli)
    second = int(cli("add-lead", "W. Quasthoff (old)", "--email", SECRETS[1].upper()).stdout)
    kept_before = _rows_about(cli, keep)
    refused = cli("forget", SECRETS[1], ok=False)  # not on a terminal: needs --yes
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert _rows_about(cli, first) > 5
    result = cli("forget", SECRETS[1], "--yes", "--format", "csv")
    erased = dict(line.split(",") for line in result.stdout.strip().splitlines()[1:])
    assert erased["lead"] == "2" and erased["activity"] == "2" and erased["stage_change"] == "3"
    assert erased["lead_extra"] == "1" and erased["qualification"] == "1"
    assert _rows_about(cli, first) == 0 and _rows_about(cli, second) == 0
    assert _rows_about(cli, keep) == kept_before


def test_forget_by_id_and_unknown_people(cli):
    lead = _person(cli)
    other = int(cli("add-lead", "Other").stdout)
    for who in ("nobody@example.org", "4242", "not an id or email"):
        result = cli("forget", who, "--yes", ok=False)
        assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert _rows_about(cli, lead) > 0
    cli("forget", str(lead), "--yes")
    assert _rows_about(cli, lead) == 0 and _rows_about(cli, other) == 2


@pytest.mark.sqlite_only
def test_the_bytes_are_gone_from_the_file(cli, db_path):
    import sqlite3

    cli("add-lead", "First")
    watcher = sqlite3.connect(db_path)  # an idle second connection keeps the WAL file between commands
    watcher.execute("SELECT COUNT(*) FROM lead").fetchone()
    for i in range(40):  # enough other data that the person's pages are not the whole file
        cli("add-lead", f"Filler {i}", "--email", f"filler{i}@example.com", "--note", "x" * 200)
    lead = _person(cli)
    for i in range(5):
        cli("log", lead, "email", "--note", f"{SECRETS[3]} #{i}")
    files = [Path(db_path), Path(db_path + "-wal")]

    def found() -> set[str]:
        data = b"".join(f.read_bytes() for f in files if f.exists())
        return {s for s in SECRETS if s.encode() in data}

    assert found() == set(SECRETS)  # they really were in the file
    cli("forget", SECRETS[1], "--yes")
    assert found() == set()
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 41
    assert cli.scalar("PRAGMA integrity_check") == "ok"
    assert Path(db_path + "-wal").stat().st_size == 0
    watcher.close()
