"""Several processes on one SQLite file at once: writers adding and moving leads, a large import and
`clean` reports. Every write lands, nothing fails with "database is locked" (writers queue behind the
busy timeout), and every report reads one consistent snapshot: all of the import or none of it."""

from __future__ import annotations

import csv
import json
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
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pipecli", "--db", db_path, "import", str(path), "--key", "email"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in files
    ]
    finished = [p.communicate(timeout=120) for p in procs]
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
