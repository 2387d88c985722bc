"""History speed: `changes`, `--as-of` reports, `history ID`, `undo` and everyday writes on the benchmark
database with its history extended by value and close-date edits, side by side with hand-written SQL.

The database is `bigdb`'s (leads with their stage history), copied, then given what a year of use
leaves in the journal: a creation event per lead, and for every other lead five value edits and five
close-date edits spread over the last 60 days (one journal entry per 1,000 leads, as an import makes),
so a million leads carry six million events. The leads' cached columns are set to their last edit.

For `changes` and `metrics --as-of` the core function is timed in-process (after start-up) next to its
floor: the same rows read by hand-written SQL through the standard sqlite3 module (for `changes`, every
event after the window's start and the open value of the leads without one; for `--as-of`, the stays
current at the moment and the earliest later change of each overlaid field, one index seek each). Whole commands run as
subprocesses with their output piped to /dev/null. Each timing is the best of --repeat runs.

    python benchmarks/history.py [--leads 1000000] [--repeat 3] [--reuse]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import bigdb
from common import DAY, best, freeze, pipecli

from pipecli.store.columns import AS_OF_FIELDS

freeze()


def extend(path: Path, now: int) -> int:
    """Give every lead a creation event and every other lead ten edits; return the number of events."""
    from pipecli.store.schema import snapshot_sql

    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    (n,) = db.execute("SELECT MAX(id) FROM lead").fetchone()
    with db:
        db.execute("DELETE FROM event")
        db.execute("DELETE FROM journal")
        db.execute(
            "INSERT INTO journal (id, at, actor, command) VALUES (1, ?, 'bench', 'pipecli import leads.csv')", (now,)
        )
        db.execute(
            f"INSERT INTO event (journal_id, lead_id, at, field, old, new) "
            f"SELECT 1, id, created_at, 'row:lead', NULL, {snapshot_sql('sqlite')} FROM lead"
        )
        entries = [(1 + k, now - DAY * 60, "bench", f"pipecli import edits-{k}.csv") for k in range(1, n // 1000 + 2)]
        db.executemany("INSERT INTO journal (id, at, actor, command) VALUES (?, ?, ?, ?)", entries)
        for step in range(5):
            # value: +10 % a step; close date: a week later a step; at 60, 48, 36, 24, 12 days ago
            at = now - DAY * (60 - 12 * step)
            db.execute(
                "INSERT INTO event (journal_id, lead_id, at, field, old, new) "
                "SELECT 2 + id / 1000, id, ?, 'value_minor', CAST(COALESCE(value_minor, 100000) * (10 + ?) / 10 AS TEXT),"
                " CAST(COALESCE(value_minor, 100000) * (11 + ?) / 10 AS TEXT) FROM lead WHERE id % 2 = 0",
                (at + 3600, step, step),
            )
            db.execute(
                "INSERT INTO event (journal_id, lead_id, at, field, old, new) "
                "SELECT 2 + id / 1000, id, ?, 'expected_close', date(?, 'unixepoch', ?), date(?, 'unixepoch', ?) "
                "FROM lead WHERE id % 2 = 0",
                (at + 7200, now, f"+{7 * step} days", now, f"+{7 * step + 7} days"),
            )
        db.execute(
            "UPDATE lead SET value_minor = COALESCE(value_minor, 100000) * 15 / 10, "
            "expected_close = date(?, 'unixepoch', '+35 days') WHERE id % 2 = 0",
            (now,),
        )
    (events,) = db.execute("SELECT COUNT(*) FROM event").fetchone()
    db.close()
    return events


def whole(argv: list[str], repeat: int) -> float:
    def run():
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)

    return best(run, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--reuse", action="store_true", help="time the database the last run extended (it took minutes) again"
    )
    args = parser.parse_args()

    from pipecli import clock
    from pipecli.pipelines import open_store
    from pipecli.reports import changes, metrics

    source = bigdb.ensure(bigdb.path_for(args.leads), args.leads)
    work = source.with_name(f"history-{args.leads}.db")
    now = clock.now_ts()
    if args.reuse and work.exists():
        store = open_store(str(work))  # migrates it to the current schema
        store.dispose()
        with sqlite3.connect(work) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            (events,) = db.execute("SELECT COUNT(*) FROM event").fetchone()
        print(f"{args.leads:,} leads, {events:,} events (the last run's database, migrated)")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source, work)
        store = open_store(str(work))  # migrates the copy to the current schema
        store.dispose()
        t0 = time.perf_counter()
        events = extend(work, now)
        with sqlite3.connect(work) as db:  # as a user's file is between commands: no write-ahead log pending
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        print(f"{args.leads:,} leads, {events:,} events (extended in {time.perf_counter() - t0:.0f} s)")

    since = now - 7 * DAY
    as_of_day = clock.from_ts(now - 30 * DAY).date()
    moment = clock.end_of_day_ts(as_of_day)
    store = open_store(str(work))
    raw = sqlite3.connect(work)

    def changes_core():
        with store.read() as conn:
            changes.changes(conn, since)

    def changes_floor():
        raw.execute(
            "SELECT lead_id, at, field, old, new FROM event WHERE at > ? ORDER BY lead_id, at, id", (since,)
        ).fetchall()
        raw.execute(
            "SELECT SUM(value_minor) FROM lead l WHERE status = 'open' AND created_at <= ? AND NOT EXISTS "
            "(SELECT 1 FROM event e WHERE e.lead_id = l.id AND e.at > ?)",
            (since, since),
        ).fetchall()

    def as_of_core():
        with store.read() as conn:
            metrics.metrics(conn, as_of=as_of_day)

    def as_of_floor():
        # the stays current at the moment (in lead order), each lead's row, and for each overlaid field the
        # earliest later change: one seek in ix_event_as_of each, as the report reads them
        later = "FROM event e WHERE e.lead_id = x.id AND e.field = '{0}' AND e.field IN ({1}) AND e.at > ?1"
        fields = ", ".join(f"'{f}'" for f in AS_OF_FIELDS)
        then = ", ".join(
            f"CASE WHEN EXISTS (SELECT 1 {later.format(f, fields)}) THEN (SELECT e.old {later.format(f, fields)}"
            f" ORDER BY e.at, e.id LIMIT 1) ELSE x.{f} END AS {f}"
            for f in AS_OF_FIELDS
        )
        raw.execute(
            "SELECT kind, COUNT(*), SUM(CAST(value_minor AS INTEGER)), COUNT(owner), COUNT(expected_close) FROM ("
            f"SELECT s.kind, {then} FROM stage_change c CROSS JOIN lead x CROSS JOIN stage s "
            "WHERE x.id = c.lead_id AND s.id = c.to_stage_id AND c.at <= ?1 AND (c.left_at IS NULL OR c.left_at > ?1)"
            ") GROUP BY kind",
            (moment,),
        ).fetchall()

    rows = [
        ("changes --since 7d", best(changes_core, args.repeat), best(changes_floor, args.repeat),
         whole(pipecli(work, "changes", "--since", "7d"), args.repeat)),
        (f"metrics --as-of {as_of_day}", best(as_of_core, args.repeat), best(as_of_floor, args.repeat),
         whole(pipecli(work, "metrics", "--as-of", str(as_of_day)), args.repeat)),
    ]  # fmt: skip
    print(f"{'report':<28}{'own work':>10}{'SQL floor':>11}{'ratio':>7}{'command':>10}")
    for name, core, floor, cmd in rows:
        print(f"{name:<28}{core:>9.2f}s{floor:>10.2f}s{core / floor:>6.1f}×{cmd:>9.2f}s")
    (lead,) = raw.execute("SELECT MIN(id) FROM lead WHERE status = 'open' AND id % 2 = 0").fetchone()
    lead = str(lead)
    for name, argv in (
        ("start-up (--version)", [sys.executable, "-m", "pipecli", "--version"]),
        ("clean --as-of", pipecli(work, "clean", "--as-of", str(as_of_day))),
        (f"history {lead}", pipecli(work, "history", lead)),
        ("undo --list", pipecli(work, "undo", "--list")),
        (f"move {lead} won", pipecli(work, "move", lead, "won")),
        ("undo --yes (that move)", pipecli(work, "undo", "--yes")),
        (f"edit {lead} --value 10", pipecli(work, "edit", lead, "--value", "10")),
        (f"log {lead} call", pipecli(work, "log", lead, "call")),
    ):
        print(f"{name:<28}{'':>28}{whole(argv, 1 if 'undo --yes' in name or 'move' in name else args.repeat):>9.2f}s")
    store.dispose()


if __name__ == "__main__":
    main()
