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
        if via == "file":  # left in the bulk write's rollback-journal mode, and marked so
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
            assert conn.execute("SELECT COUNT(*) FROM meta WHERE key = 'bulk_write_journal'").fetchone()[0] == 1
    assert imported in (0, ROWS)
    assert imported == 0  # killed before its commit: none of it
    assert cli.every_row() == before  # and nothing else changed either
    assert cli.sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name") == indexes
    assert cli("add-lead", "After the crash").stdout.strip().isdigit()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # the next command put WAL back
        assert conn.execute("SELECT COUNT(*) FROM meta WHERE key = 'bulk_write_journal'").fetchone()[0] == 0
