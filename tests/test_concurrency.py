"""Several processes on one SQLite file at once: writers adding and moving leads, a large import and
`clean` reports. Every write lands, nothing fails with "database is locked" (writers queue behind the
busy timeout), and every report reads one consistent snapshot: all of the import or none of it."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WRITERS, LEADS_EACH, IMPORTED, REPORTS = 4, 8, 5000, 4

# Runs pipecli commands in one process, one after the other, each opening the database like the real
# CLI does; "$id" stands for the id the previous command printed. Prints [[args, exit, stdout, stderr]].
DRIVER = """
import json, sys
from typer.testing import CliRunner
from pipecli.cli import app
db, ops = sys.argv[1], json.loads(sys.argv[2])
runner, last, out = CliRunner(), "", []
for args in ops:
    args = [last if a == "$id" else a for a in args]
    result = runner.invoke(app, ["--db", db, *args])
    if args[0] == "add-lead":
        last = result.stdout.strip()
    out.append([args, result.exit_code, result.stdout, result.stderr])
print(json.dumps(out))
"""


def write_csv(path: Path, rows: int, prefix: str) -> Path:
    """Write a CSV of `rows` leads named PREFIX-<n>, with no value (so `clean` reports each as incomplete)."""
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["name", "company", "email", "stage", "owner"])
        for i in range(rows):
            out.writerow(
                [
                    f"{prefix}-{i}",
                    f"Company {i % 97}",
                    f"{prefix}{i}@example.com",
                    ("Prospecting", "Contact", "Meeting")[i % 3],
                    f"owner{i % 5}",
                ]
            )
    return path


def driver(db: str, ops: list[list[str]]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, db, json.dumps(ops)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.sqlite_only
def test_writers_an_import_and_reports_at_once(cli, db_path, tmp_path):
    cli("add-lead", "Seed", "--value", "100")
    big = write_csv(tmp_path / "big.csv", IMPORTED, "imp")
    writer_ops = [
        [
            op
            for i in range(LEADS_EACH)
            for op in (["add-lead", f"w{k}-{i}"], ["move", "$id", "Meeting"], ["log", "$id", "call", "--note", f"w{k}"])
        ]
        for k in range(WRITERS)
    ]
    report_ops = [["clean", "--format", "json"]] * REPORTS
    procs = [driver(db_path, ops) for ops in writer_ops]
    procs.append(driver(db_path, report_ops))
    procs.append(
        subprocess.Popen(
            [sys.executable, "-m", "pipecli", "--db", db_path, "import", str(big)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    )
    procs.append(driver(db_path, report_ops))
    finished = [p.communicate(timeout=240) for p in procs]
    _import_out, import_err = finished[WRITERS + 1]
    assert procs[WRITERS + 1].returncode == 0, import_err
    assert f"{IMPORTED} inserted" in import_err
    runs = [run for i, (out, err) in enumerate(finished) if i != WRITERS + 1 for run in json.loads(out)]
    assert len(runs) == WRITERS * LEADS_EACH * 3 + 2 * REPORTS
    for args, code, _, err in runs:
        assert code == 0, (args, err)
        assert "locked" not in err and "busy" not in err, (args, err)

    # every write landed
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 1 + WRITERS * LEADS_EACH + IMPORTED
    written = cli.sql(
        "SELECT l.name, s.name, (SELECT COUNT(*) FROM stage_change c WHERE c.lead_id = l.id),"
        " (SELECT COUNT(*) FROM activity a WHERE a.lead_id = l.id) "
        "FROM lead l JOIN stage s ON s.id = l.stage_id WHERE l.name LIKE 'w%'"
    )
    assert sorted(r[0] for r in written) == sorted(f"w{k}-{i}" for k in range(WRITERS) for i in range(LEADS_EACH))
    assert {r[1:] for r in written} == {("Meeting", 2, 1)}
    assert cli.scalar("SELECT COUNT(*) FROM lead WHERE name LIKE 'imp-%'") == IMPORTED

    # each report saw the import whole or not at all
    for args, _, out, _ in runs:
        if args[0] == "clean":
            imported = {r["lead_id"] for r in json.loads(out) if r["name"].startswith("imp-")}
            assert len(imported) in (0, IMPORTED)
    assert cli.scalar("PRAGMA integrity_check") == "ok"


KEYED_RUNS, KEYED_ROWS = 3, 2000


def test_concurrent_keyed_imports_of_the_same_keys_add_each_lead_once(cli, db_path, tmp_path):
    """Issue 19: on PostgreSQL three concurrent `import --key email` runs of one file each inserted every
    row (6,000 leads for 2,000 e-mails; later keyed imports failed with "matches 3 leads"). Each run now
    sees what the others committed: one inserts, the others find the rows and update or leave them."""
    cli("add-lead", "Seed")
    files = []
    for k in range(KEYED_RUNS):  # the same keys; each file its own company, so a later run updates
        path = tmp_path / f"keyed{k}.csv"
        with open(path, "w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["name", "email", "company"])
            out.writerows([f"K-{i}", f"k{i}@example.com", f"Company {k}"] for i in range(KEYED_ROWS))
        files.append(path)
    # each run waits for the others' lock: on a loaded CI machine three serialised runs can take longer than
    # the default 30 s wait (the test's own limit is 270 s)
    config = tmp_path / "wait.toml"
    config.write_text("lock_wait = 240\n")
    env = {**os.environ, "PIPECLI_CONFIG": str(config)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pipecli", "--db", db_path, "import", str(path), "--key", "email"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in files
    ]
    finished = [p.communicate(timeout=270) for p in procs]
    counts = []
    for proc, (_, err) in zip(procs, finished):
        assert proc.returncode == 0, err
        found = re.search(r"(\d+) inserted, (\d+) updated, (\d+) unchanged, 0 rejected", err)
        assert found, err
        counts.append(tuple(map(int, found.groups())))
    assert sum(c[0] for c in counts) == KEYED_ROWS  # every e-mail inserted by exactly one run
    assert all(sum(c) == KEYED_ROWS for c in counts)  # and each run accounted for every row
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 1 + KEYED_ROWS
    assert cli.scalar("SELECT COUNT(DISTINCT email) FROM lead WHERE email IS NOT NULL") == KEYED_ROWS
    # the leads hold one run's company throughout (the last to commit), and a later keyed import works
    assert len(cli.sql("SELECT DISTINCT company FROM lead WHERE email IS NOT NULL")) == 1
    again = cli("import", str(files[0]), "--key", "email")
    assert "0 inserted" in again.stderr and "rejected" in again.stderr and "matches" not in again.stderr


RACE_ROWS, RACE_ADDS = 1000, 40


def test_add_lead_racing_a_keyed_import_of_its_email_never_adds_a_silent_second_lead(cli, db_path, tmp_path):
    """Issue 19: a keyed import holds `sql.KEYED_IMPORT_LOCK` over its read-then-insert, but `add-lead`
    did not take it: on PostgreSQL an add-lead of an e-mail the running import was inserting looked for
    duplicates before the import committed, found none, and added a second lead for the e-mail, with no
    warning and past `--unique`. Two real processes at once: a keyed import of RACE_ROWS e-mails and a
    process adding RACE_ADDS of them, every other one with --unique. Each add must come out as if it ran
    before the import (the import then updates its lead) or after it (--unique refuses naming the
    import's lead; without it the lead is added with the duplicate warning)."""
    path = tmp_path / "keyed.csv"
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["name", "email", "company"])
        out.writerows([f"K-{i}", f"k{i}@example.com", "Imported"] for i in range(RACE_ROWS))
    emails = [f"k{i}@example.com" for i in range(0, RACE_ROWS, RACE_ROWS // RACE_ADDS)]
    adds = [["add-lead", f"Added {e}", "--email", e] + (["--unique"] if n % 2 else []) for n, e in enumerate(emails)]
    keyed = subprocess.Popen(
        [sys.executable, "-m", "pipecli", "--db", db_path, "import", str(path), "--key", "email"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    adder = driver(db_path, adds)
    (_, import_err), (added_out, added_err) = keyed.communicate(timeout=240), adder.communicate(timeout=240)
    assert keyed.returncode == 0, import_err
    assert adder.returncode == 0, added_err
    found = re.search(r"(\d+) inserted, (\d+) updated, 0 unchanged, 0 rejected", import_err)
    assert found, import_err
    inserted, updated = map(int, found.groups())
    before = after = 0  # adds that ran before the import, and after it
    for (args, code, _, err), email in zip(json.loads(added_out), emails):
        leads = cli.sql("SELECT name, company FROM lead WHERE email = :e ORDER BY id", e=email)
        if code == 1:  # --unique, after the import: refused, naming the import's lead
            assert "--unique" in args and "looks like lead" in err and err.count("\n") == 1, (args, err)
            assert leads == [(f"K-{int(email[1:].split('@')[0])}", "Imported")], (email, leads)
            after += 1
        elif "looks like lead" in err:  # added after the import, and said so
            assert code == 0 and "--unique" not in args, (args, err)
            assert len(leads) == 2 and leads[0][1] == "Imported" and leads[1][0] == f"Added {email}", (email, leads)
            after += 1
        else:  # added before the import, which then found it and updated it: one lead, the import's values
            assert code == 0 and err == "", (args, err)
            assert leads == [(f"K-{int(email[1:].split('@')[0])}", "Imported")], (email, leads)
            before += 1
    assert before + after == RACE_ADDS
    assert (inserted, updated) == (RACE_ROWS - before, before)
    print(f"add-lead racing a keyed import: {before} adds before it, {after} after")
