"""`forget` on a full disk (issue 19): a real small file system (tmpfs, mounted for the test: root only).

With no room for the erasure's transaction, `forget` fails with one line and erases nothing; once space
is freed, the same command erases the person. With room for the transaction but not for the rewrite
(VACUUM needs a copy of the database), the erasure commits and `forget` says so in one line, exit 1,
naming `pipecli db compact`, which finishes it once space is freed. Never "internal error"."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.test_forget import SECRETS, _person

pytestmark = pytest.mark.sqlite_only
DISK_KB = 8192


@pytest.fixture
def small_disk(tmp_path):
    """Return a folder on an 8 MB tmpfs of its own (skip when it cannot be mounted: not root)."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_KB}k", "tmpfs", str(where)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the file system of `folder` until a write fails for lack of space, then give back `leave` bytes;
    return the filler file."""
    filler = folder / f"filler-{uuid.uuid4().hex}"
    block = b"\0" * 65536
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(block)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        try:
            while True:
                handle.write(b"\0" * 512)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def one_line(result) -> str:
    assert result.stderr.startswith("pipecli: ") and result.stderr.count("\n") == 1, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.output, result.output
    return result.stderr


def secrets_on_disk(folder: Path) -> list[str]:
    """Return the secrets still in any of the database's files (main file, log)."""
    blobs = b"".join(p.read_bytes() for p in folder.glob("p.db*"))
    return [s for s in SECRETS if s.encode() in blobs]


def wal_empty(folder: Path) -> bool:
    """Return True when the database's write-ahead log is gone or truncated to nothing."""
    wal = folder / "p.db-wal"
    return not wal.exists() or wal.stat().st_size == 0


def test_forget_with_no_room_for_its_transaction_erases_nothing_then_works(small_disk):
    from conftest import Cli

    cli = Cli(str(small_disk / "p.db"))
    cli("demo", "--leads", "150")
    lead = _person(cli)
    before = cli.every_row()
    filler = fill(small_disk)
    result = cli("forget", lead, "--yes", ok=False)
    assert result.exit_code == 1
    said = one_line(result)
    assert "full" in said or "disk I/O error" in said, said
    filler.unlink()
    assert cli.every_row() == before  # nothing half-erased
    assert cli.scalar("PRAGMA integrity_check") == "ok"
    again = cli("forget", lead, "--yes")  # the same command, with space again
    assert "compacted the database" in again.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead WHERE id = :l", l=lead) == 0
    assert secrets_on_disk(small_disk) == []


def test_forget_with_no_room_to_compact_commits_says_so_and_db_compact_finishes(small_disk):
    from conftest import Cli

    db = small_disk / "p.db"
    cli = Cli(str(db))
    cli("demo", "--leads", "300")
    lead = _person(cli)
    others = cli.scalar("SELECT COUNT(*) FROM lead") - 1
    # room for the erasure's pages in the log, not for VACUUM's copy of the whole file
    filler = fill(small_disk, leave=db.stat().st_size // 4)
    result = cli("forget", lead, "--yes", ok=False)
    assert result.exit_code == 1
    said = one_line(result)
    assert "forgot 1 lead(s)" in said and "pipecli db compact" in said and "full" in said, said
    assert cli.scalar("SELECT COUNT(*) FROM lead WHERE id = :l", l=lead) == 0  # the erasure committed
    assert cli.scalar("SELECT COUNT(*) FROM lead") == others
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    still = cli("db", "compact", ok=False)  # still no room: one line again
    assert still.exit_code == 1 and "full" in one_line(still)
    filler.unlink()
    done = cli("db", "compact")
    assert "compacted the database" in done.stderr
    assert wal_empty(small_disk)
    assert secrets_on_disk(small_disk) == []
    assert cli.scalar("SELECT COUNT(*) FROM lead") == others


def test_forget_while_another_process_reads_says_the_erasure_is_incomplete(tmp_path):
    """Issue 19: `forget` while another process held a read took 61 s and exited 0, the erased bytes still
    in the file. Now it waits a few seconds for the reader, then says what is left and exits 1; `db
    compact` finishes once the reader is gone."""
    import time

    from conftest import Cli

    db = tmp_path / "p.db"
    cli = Cli(str(db))
    cli("demo", "--leads", "40")
    lead = _person(cli)
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM lead").fetchone()  # a long report holding its snapshot
    try:
        started = time.monotonic()
        result = cli("forget", lead, "--yes", ok=False)
        assert time.monotonic() - started < 30
        assert result.exit_code == 1
        said = one_line(result)
        assert "another process is reading" in said and "pipecli db compact" in said, said
        assert cli.scalar("SELECT COUNT(*) FROM lead WHERE id = :l", l=lead) == 0
    finally:
        reader.close()
    cli("db", "compact")
    assert secrets_on_disk(tmp_path) == []
    assert wal_empty(tmp_path)
