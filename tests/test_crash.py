"""A crash in the middle of a write: `pipecli import` of a large file killed with SIGKILL halfway. The
file stays a healthy database holding all of that import or none of it, and the next command works."""

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
ROWS = 60000


@pytest.mark.sqlite_only
def test_sigkill_halfway_through_an_import(cli, db_path, tmp_path):
    cli("demo", "--leads", "12")
    before = cli.every_row()
    indexes = cli.sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name")
    big = write_csv(tmp_path / "big.csv", ROWS, "crash")
    proc = subprocess.Popen([sys.executable, "-m", "pipecli", "--db", db_path, "import", str(big)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wal = Path(db_path + "-wal")
    deadline = time.monotonic() + 60
    # Mid-import: the import's transaction has already spilled pages into the write-ahead log.
    while not (wal.exists() and wal.stat().st_size > 1_000_000):
        assert proc.poll() is None, "the import ended before it could be killed: make ROWS larger"
        assert time.monotonic() < deadline, "the import never got going"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert wal.stat().st_size > 1_000_000  # the half-written transaction is really there

    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        imported = conn.execute("SELECT COUNT(*) FROM lead WHERE name LIKE 'crash-%'").fetchone()[0]
    assert imported in (0, ROWS)
    assert imported == 0  # killed before its commit: none of it
    assert cli.every_row() == before  # and nothing else changed either
    assert cli.sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name") == indexes
    assert cli("add-lead", "After the crash").stdout.strip().isdigit()
