"""A crash in the middle of a write: `pipecli import` of a large file killed with SIGKILL halfway. The
file stays a healthy database holding all of that import or none of it, and the next command works.

Both journals are tried: an import this big is written through a rollback journal (`Store.bulk_write`)
when it is alone on the file, through the write-ahead log while another connection has the file open
(the file is read from a path in one case, piped on stdin in the other)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_concurrency import write_csv

ROOT = Path(__file__).resolve().parents[1]
ROWS = 150000
# Another process with the file open (an idle connection) until its stdin closes.
WATCHER = (
    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT COUNT(*) FROM lead').fetchone(); "
    "print('open', flush=True); sys.stdin.read()"
)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("via", ["file", "stdin"])
def test_sigkill_halfway_through_an_import(cli, db_path, tmp_path, via):
    cli("demo", "--leads", "12")
    watcher = None
    if via == "stdin":  # another process has the file open: the import keeps to the write-ahead log
        watcher = subprocess.Popen(
            [sys.executable, "-c", WATCHER, db_path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert watcher.stdout.readline() == "open\n"
    before = cli.every_row()
    indexes = cli.sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name")
    big = write_csv(tmp_path / "big.csv", ROWS, "crash")
    assert big.stat().st_size > (2 << 20)  # big enough for the bulk path (importer.BULK_BYTES)
    command = [sys.executable, "-m", "pipecli", "--db", db_path, "import", str(big) if via == "file" else "-"]
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=open(big, "rb") if via == "stdin" else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    db, wal, journal = Path(db_path), Path(db_path + "-wal"), Path(db_path + "-journal")
    start_size = db.stat().st_size

    def halfway() -> bool:
        """The import's transaction has already spilled pages: into the log, or (rollback journal) into
        the file itself, with the original pages saved in the journal."""
        if via == "stdin":
            return wal.exists() and wal.stat().st_size > 1_000_000
        return journal.exists() and db.stat().st_size > start_size + 1_000_000

    deadline = time.monotonic() + 60
    while not halfway():
        assert proc.poll() is None, "the import ended before it could be killed: make ROWS larger"
        assert time.monotonic() < deadline, "the import never got going"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert halfway()  # the half-written transaction is really there
    if watcher is not None:
        watcher.communicate("")  # the other process closes the file

    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        imported = conn.execute("SELECT COUNT(*) FROM lead WHERE name LIKE 'crash-%'").fetchone()[0]
        if via == "file":  # left in the bulk write's rollback-journal mode
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert imported in (0, ROWS)
    assert imported == 0  # killed before its commit: none of it
    assert cli.every_row() == before  # and nothing else changed either
    assert cli.sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name") == indexes
    assert cli("add-lead", "After the crash").stdout.strip().isdigit()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # the next command put WAL back


# A file under importer.BULK_BYTES goes through an ordinary write (WAL); one over it through the bulk
# write's rollback journal. Both hold several importer.BATCH batches.
SMALL_ROWS, BIG_ROWS = 12000, 40000
# Where each kill point leaves the import: rolled back (none of it) or committed (all of it).
KILLS = [
    ("wal", "import:batch-stored", 0),
    ("wal", "write:before-commit", 0),
    ("wal", "write:committed", 1),
    ("bulk", "bulk:switched", 0),
    ("bulk", "import:batch-stored", 0),
    ("bulk", "write:before-commit", 0),
    ("bulk", "write:committed", 1),
]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("mode, point, landed", KILLS, ids=[f"{m}-{p}" for m, p, _ in KILLS])
def test_sigkill_at_each_point_of_a_write(cli, db_path, tmp_path, mode, point, landed):
    """Issue 19: a kill just after a bulk write switched the file to a rollback journal (and before it
    recorded so) left the file out of WAL mode for good, and a writer then waited 30 s and failed
    whenever a reader had the file open. Killed at each point of a write, the file holds the old state
    or the new, never part, and the next command puts it back in WAL mode."""
    from pipecli.store import faults

    assert point in faults.POINTS
    cli("demo", "--leads", "12")
    before = cli.every_row()
    rows = SMALL_ROWS if mode == "wal" else BIG_ROWS
    csv_file = write_csv(tmp_path / "kill.csv", rows, "kill")
    assert (csv_file.stat().st_size > (2 << 20)) == (mode == "bulk")  # importer.BULK_BYTES
    proc = subprocess.run(
        [sys.executable, "-m", "pipecli", "--db", db_path, "import", str(csv_file)],
        cwd=ROOT,
        env={**os.environ, faults.ENV: point},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr  # it died at the point, not before or after

    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM lead WHERE name LIKE 'kill-%'").fetchone()[0] == landed * rows
        if mode == "bulk" and point != "write:committed":
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # the window the issue found
    if not landed:
        assert cli.every_row() == before
    cli("list", "--limit", "1")  # the next command, alone on the file
    assert cli.scalar("PRAGMA journal_mode") == "wal"
    reader = sqlite3.connect(db_path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM lead").fetchone()  # a report holding its snapshot
        started = time.monotonic()
        cli("add-lead", "While a report reads")  # in WAL mode a writer does not wait for a reader
        assert time.monotonic() - started < 10
    finally:
        reader.close()
    assert cli.scalar("SELECT COUNT(*) FROM lead WHERE name LIKE 'kill-%'") == landed * rows


SWEEP = 6  # kill moments spread over one WAL-mode import


@pytest.mark.sqlite_only
def test_sigkill_swept_over_a_wal_mode_import(cli, db_path, tmp_path):
    """Killed at moments spread over a whole WAL-mode import (start-up, reading, the write, the commit,
    the checkpoint that follows it), the file always holds all of it or none of it."""
    cli("demo", "--leads", "12")
    csv_file = write_csv(tmp_path / "sweep.csv", SMALL_ROWS, "sweep")
    command = [sys.executable, "-m", "pipecli", "--db", db_path, "import", str(csv_file), "--allow-duplicates"]
    started = time.monotonic()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    took = time.monotonic() - started
    expected = SMALL_ROWS
    outcomes = []
    for k in range(1, SWEEP + 1):
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=took * k / SWEEP)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
        outcomes.append(proc.wait())
        with sqlite3.connect(db_path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            count = conn.execute("SELECT COUNT(*) FROM lead WHERE name LIKE 'sweep-%'").fetchone()[0]
        assert count in (expected, expected + SMALL_ROWS), (k, count)
        expected = count
    assert -signal.SIGKILL in outcomes  # the sweep did kill imports, not only watch them finish
    assert cli("add-lead", "After the sweep").stdout.strip().isdigit()
