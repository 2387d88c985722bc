"""A big import from a file reads and checks its rows in a second process (`pipecli.transfer.helper`) while the
first writes them. Whatever the file holds, the database ends up exactly as the one-process import
(the same file piped on stdin) leaves it, and errors are reported the same way."""

from __future__ import annotations

import random

import pytest

from pipecli.transfer import helper as worker
from pipecli.transfer import importer

pytestmark = pytest.mark.sqlite_only  # the helper process serves SQLite's bulk path only

HEADER = "name,email,amount,stage,created,close date,notes,Country,lost reason,source\n"


ROWS = 26000  # over 2 MiB: importer.is_bulk


def big_csv(rows: int = ROWS, bad_at: tuple[int, ...] = ()) -> str:
    """Leads of every shape the column-wise check takes: open and closed, notes with commas, quotes and
    line breaks, extra fields, a lost reason on open rows (kept as an extra), padded cells, blank lines,
    amounts with cents; rows in `bad_at` have an invalid email."""
    rnd = random.Random(5)
    out = [HEADER]
    for i in range(rows):
        stage = rnd.choice(["Prospecting", "Contact", "Meeting", "won", "lost"])
        created = f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
        close = (
            f"2025-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}" if stage in ("won", "lost") or i % 5 == 0 else ""
        )
        email = "not-an-email" if i in bad_at else f"lead{i}@example.com"
        amount = rnd.choice(["", "4500", "12000.5", "99.99", "15000"])
        note = rnd.choice(["", '"called, no answer"', '"quote: ""gold"", 3 seats"', '"two\nlines"'])
        country = rnd.choice(["", "Italy", "France"])
        reason = rnd.choice(["", "", "price"])
        source = rnd.choice(["", "referral", "web", "event"])
        out.append(f"  Lead {i} ,{email},{amount},{stage},{created},{close},{note},{country},{reason},{source}\n")
        if i % 997 == 0:
            out.append("\n")
    return "".join(out)


@pytest.fixture
def spy(monkeypatch):
    """Counts the helper processes started (the real class does the work)."""
    started = []

    class Counted(worker.Worker):
        def __init__(self, produce):
            started.append(produce)
            super().__init__(produce)

    monkeypatch.setattr(worker, "Worker", Counted)
    return started


def stored(cli) -> dict:
    """Return every row of `cli`'s database, as two databases that hold the same data compare equal: the
    journal without its command line (it names each database's own file), and each lead's events in the
    order they were recorded, without their ids (the bulk writer numbers a batch's events in the order of
    its own batches, so only the order among one lead's events is the same on both paths)."""
    from pipecli.store import schema

    rows = cli.every_row()
    command = [c.name for c in schema.Journal.__table__.columns].index("command")
    rows["journal"] = [r[:command] + r[command + 1 :] for r in rows["journal"]]
    event = [c.name for c in schema.Event.__table__.columns]
    lead, ident = event.index("lead_id"), event.index("id")
    in_lead_order = sorted(rows["event"], key=lambda r: (r[lead] is None, r[lead] or 0))  # stable: ids kept in order
    rows["event"] = [r[:ident] + r[ident + 1 :] for r in in_lead_order]
    return rows


def one_process_copy(cli, tmp_path, content: str, *args: str, before: str | None = None, stdin: bool = False) -> dict:
    """Return every row after importing `content` (from a file, or stdin), after `before` when given, into
    a fresh database in one process (where the system cannot fork, or `worker.available` says so, the
    import reads its rows itself)."""
    from conftest import Cli

    other = Cli(str(tmp_path / "one-process.db"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(worker, "available", lambda: False)
        for i, text in enumerate([before, content] if before else [content]):
            if stdin and text is content:
                other("import", "-", *args, input=text, ok=False)
            else:
                path = tmp_path / f"one-process-{i}.csv"
                path.write_text(text)
                other("import", str(path), *args, ok=False)
    return stored(other)


def test_a_big_file_is_imported_by_two_processes_exactly_as_by_one(cli, tmp_path, spy):
    content = big_csv()
    path = tmp_path / "big.csv"
    path.write_text(content)
    assert importer.is_bulk(path.stat().st_size)
    result = cli("import", str(path))
    assert len(spy) == 1  # the helper process did the reading
    assert f"{ROWS} inserted" in result.stderr
    assert stored(cli) == one_process_copy(cli, tmp_path, content)
    assert cli.scalar("SELECT COUNT(*) FROM lead_extra WHERE key = 'lost reason'") > 0  # the shapes really occur
    assert cli.scalar("SELECT COUNT(*) FROM activity WHERE note LIKE '%' || char(10) || '%'") > 0
    assert cli.scalar("SELECT COUNT(DISTINCT fit_score) FROM lead") > 2
    # numbers crossed the pipe as text: SQLite stored them as numbers again
    assert cli.sql("SELECT DISTINCT typeof(created_at), typeof(fit_score) FROM lead") == [("integer", "real")]
    assert cli.sql("SELECT DISTINCT typeof(value_minor) FROM lead ORDER BY 1") == [("integer",), ("null",)]
    assert cli.scalar("PRAGMA integrity_check") == "ok" and cli.sql("PRAGMA foreign_key_check") == []


def test_a_big_import_piped_into_a_small_database_is_a_bulk_import_from_the_start(cli, tmp_path, spy):
    """Its length unknown, a piped import that fills its first megabyte is taken as big: into a table of
    fewer than 20,000 leads, it drops the indexes and hands the reading over at once."""
    content = big_csv()
    result = cli("import", "-", input=content)
    assert len(spy) == 1 and f"{ROWS} inserted" in result.stderr
    assert stored(cli) == one_process_copy(cli, tmp_path, content, stdin=True)
    assert len(spy) == 1  # the copy was made in one process
    assert cli.scalar("PRAGMA journal_mode") == "wal" and cli.scalar("PRAGMA integrity_check") == "ok"
    fresh = tmp_path / "fresh.db"
    fresh_cli = type(cli)(str(fresh))
    fresh_cli("db", "init")
    index_list = "SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name"
    assert cli.sql(index_list) == fresh_cli.sql(index_list)  # every index dropped was built again


def test_a_piped_import_goes_bulk_once_it_outgrows_a_big_table(cli, tmp_path, spy):
    """Into a table of 21,000 leads, a piped import starts with the indexes in place, in one process; once
    it has written as many rows as the table held, it drops them and hands the reading over."""
    first = big_csv(21000).replace("Lead ", "Earlier lead ")
    (tmp_path / "first.csv").write_text(first)
    cli("import", str(tmp_path / "first.csv"))
    assert len(spy) == 1
    content = big_csv()
    result = cli("import", "-", input=content)
    assert len(spy) == 2 and f"{ROWS} inserted" in result.stderr
    assert stored(cli) == one_process_copy(cli, tmp_path, content, before=first, stdin=True)
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 21000 + ROWS


def test_bad_rows_in_a_big_file_are_rejected_as_by_one_process(cli, tmp_path, spy):
    content = big_csv(bad_at=(3, 12000, ROWS - 1))
    path = tmp_path / "big.csv"
    path.write_text(content)
    rejects, serial_rejects = tmp_path / "rejects.csv", tmp_path / "serial-rejects.csv"
    result = cli("import", str(path), "--skip-invalid", "--rejects", str(rejects))
    assert len(spy) == 1
    assert f"{ROWS - 3} inserted, 0 updated, 0 unchanged, 3 rejected" in result.stderr
    assert stored(cli) == one_process_copy(cli, tmp_path, content, "--skip-invalid", "--rejects", str(serial_rejects))
    assert rejects.read_text() == serial_rejects.read_text()
    assert rejects.read_text().count("not an email address") == 3


def test_a_failed_big_import_changes_nothing(cli, tmp_path, spy):
    cli("add-lead", "Existing", "--value", "100")
    before = cli.every_row()
    indexes = cli.sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name")
    path = tmp_path / "big.csv"
    path.write_text(big_csv(bad_at=(20000,)))
    result = cli("import", str(path), ok=False)
    assert len(spy) == 1 and result.exit_code == 1
    assert "column 'email', value 'not-an-email': not an email address" in result.stderr
    assert cli.every_row() == before
    assert cli.sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name") == indexes
    assert cli.scalar("PRAGMA journal_mode") == "wal"


def test_unreadable_bytes_late_in_a_big_file(cli, tmp_path, spy):
    """The helper reports the rows before the bad bytes and where reading stopped; nothing is imported."""
    # the bad row is in the chunk being read when decoding fails
    content = big_csv(bad_at=(ROWS - 500,)).encode() + b"Jos\xe9,jose@example.com,1,Contact,2024-01-01,,,,,\n"
    path = tmp_path / "late.csv"
    path.write_bytes(content)
    result = cli("import", str(path), ok=False)
    assert len(spy) == 1 and result.exit_code == 1
    assert "column 'email', value 'not-an-email': not an email address" in result.stderr
    assert f"{path}, near line " in result.stderr and "not valid utf-8 text" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0


def test_a_failing_helper_is_reported_and_reaped():
    def produce(send):
        send(("one",))
        raise ValueError("boom")

    helper = worker.Worker(produce)
    try:
        received = []
        with pytest.raises(worker.WorkerFailed, match="ValueError: boom"):
            for message in helper:
                received.append(message)
        assert received == [("one",)]
    finally:
        helper.close()


@pytest.mark.parametrize("values", [["a", "", "b c"], ["x\0y"]])
def test_columns_cross_the_pipe_whole_or_not_at_all(values):
    packed = worker.pack_column(values, text=True)
    if any("\0" in v for v in values):
        assert packed is None  # could not be split back: the batch goes row by row
    else:
        assert worker.unpack_column(packed) == values
    assert worker.unpack_column(worker.pack_column([1, None, 2.5], text=False)) == ["1", "", "2.5"]
