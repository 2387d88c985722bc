"""Benchmark `pipecli clean` on a big database against a hand-written SQL floor.

Targets (issue 6): the core's own work (`stale.find_stale`, timed in-process after start-up) within 3x of
the floor, and the whole command (`python -m pipecli clean`, a subprocess) under 2 seconds.

The floor is the same question asked directly through the standard sqlite3 module by hand-written SQL on
the same file and indexes: the per-stage percentiles, one pass over the open leads with each rule's flag,
and the duplicate keys, all rows fetched, nothing formatted.

The database: `--db FILE` (any pipecli database), else the shared one of `benchmarks/bigdb.py`
(1,000,000 leads, ~4,000,000 stage changes, with realistic gaps: some leads miss a value, a date, contact
details or a next step). Indexes the current models define but the file lacks are added first.

    python benchmarks/clean.py [--db FILE] [--leads N] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
from pathlib import Path

from common import ROOT, best_result, freeze, pipecli

freeze()
os.environ.setdefault("PIPECLI_CONFIG", "/nonexistent/pipecli-bench-config.toml")  # documented defaults


def database(args) -> Path:
    """Return the benchmark database: --db, else the shared one of benchmarks/bigdb.py (built once)."""
    if args.db:
        return Path(args.db)
    import bigdb

    return bigdb.ensure(bigdb.path_for(args.leads), args.leads)


def add_missing_indexes(path: Path) -> None:
    """Create the indexes the current models define that the file lacks (built by an older schema)."""
    from pipecli.store import migrations
    from pipecli.store.db import Store

    store = Store.open(str(path))
    try:
        with store.write() as conn:
            migrations._create_missing(conn)
    finally:
        store.dispose()


def floor(path: Path) -> int:
    """The same report by hand-written SQL through sqlite3: return how many finding rows it makes."""
    from pipecli import clock

    now = clock.now_ts()
    day = clock.today().isoformat()
    db = sqlite3.connect(path)
    stages = db.execute(
        "SELECT id, COALESCE(stale_days, 14) * 86400 FROM stage WHERE pipeline_id = 1 AND kind = 'open'"
    ).fetchall()
    limit, normal = {}, {}
    for sid, fixed in stages:
        n, p90 = db.execute(
            "SELECT MAX(n), MIN(d) FROM (SELECT d, ROW_NUMBER() OVER (ORDER BY d) rn, COUNT(*) OVER () n FROM "
            "(SELECT left_at - at d FROM stage_change WHERE to_stage_id = ? AND left_at <= ? ORDER BY left_at DESC LIMIT 2000)) "
            "WHERE rn * 100 >= 90 * n",
            (sid, now),
        ).fetchone()
        limit[sid], normal[sid] = fixed, (p90 if (n or 0) >= 10 else fixed)
    silent = " ".join(f"WHEN {s} THEN {v}" for s, v in limit.items())
    stuck = " ".join(f"WHEN {s} THEN {v}" for s, v in normal.items())
    rows = db.execute(
        f"SELECT * FROM (SELECT l.id, l.name, l.owner, l.value_minor, s.name, l.stage_entered_at, l.last_event_at, "
        f" l.expected_close, l.created_at, l.last_event_at < :now - CASE l.stage_id {silent} END AS silent, "
        f" l.stage_entered_at < :now - CASE l.stage_id {stuck} END AS stuck, l.expected_close < :day AS overdue, "
        " (l.value_minor IS NULL) + 2 * (l.expected_close IS NULL) + 4 * (l.email IS NULL AND l.phone IS NULL) "
        " + 8 * (l.owner IS NULL) + 16 * (l.next_step IS NULL) AS missing "
        " FROM lead l JOIN stage s ON s.id = l.stage_id "
        " WHERE l.status = 'open' AND l.archived_at IS NULL AND l.pipeline_id = 1 "
        " AND (l.snoozed_until IS NULL OR l.snoozed_until <= :day)) "
        "WHERE silent OR stuck OR overdue OR missing > 0",
        {"now": now, "day": day},
    ).fetchall()
    found = sum(r[9] + r[10] + (r[11] or 0) + (r[12] > 0) for r in rows)
    dups = db.execute(
        "WITH e AS (SELECT lower(trim(email)) k FROM lead WHERE status = 'open' AND lower(trim(email)) IS NOT NULL "
        " GROUP BY 1 HAVING COUNT(*) > 1), "
        "nc AS (SELECT lower(trim(name)) a, lower(trim(company)) b FROM lead WHERE status = 'open' "
        " AND lower(trim(company)) IS NOT NULL GROUP BY 1, 2 HAVING COUNT(*) > 1), "
        "cand AS (SELECT id, name, email, company, created_at FROM lead WHERE status = 'open' AND archived_at IS NULL "
        " AND pipeline_id = 1 AND (snoozed_until IS NULL OR snoozed_until <= :day) AND id IN ("
        "  SELECT id FROM lead WHERE status = 'open' AND lower(trim(email)) IN (SELECT k FROM e) UNION "
        "  SELECT id FROM lead WHERE status = 'open' AND (lower(trim(name)), lower(trim(company))) IN (SELECT a, b FROM nc))) "
        "SELECT * FROM (SELECT id, name, created_at, "
        " MIN(CASE WHEN email IS NOT NULL THEN id END) OVER (PARTITION BY lower(trim(email))) be, "
        " MIN(CASE WHEN company IS NOT NULL THEN id END) OVER (PARTITION BY lower(trim(name)), lower(trim(company))) bn "
        " FROM cand) WHERE be < id OR bn < id",
        {"day": day},
    ).fetchall()
    db.close()
    return found + len(dups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="an existing pipecli database to measure")
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    path = database(args)
    add_missing_indexes(path)

    from pipecli.reports import clean as stale
    from pipecli.store.db import Store

    store = Store.open(str(path))

    def core():
        with store.read() as conn:
            return stale.find_stale(conn)

    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def command(*extra):
        with open(os.devnull, "w") as sink:
            done = subprocess.run(
                pipecli(path, "clean", *extra),
                stdout=sink,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=ROOT,
            )
        if done.returncode not in (0, 1):
            raise SystemExit(f"pipecli clean failed: {done.stderr}")

    floor_s, floor_rows = best_result(lambda: floor(path), args.runs)
    core_s, report = best_result(core, args.runs)
    whole_s, _ = best_result(command, args.runs)
    owner = (
        sqlite3.connect(path)
        .execute("SELECT owner FROM lead WHERE owner IS NOT NULL ORDER BY id LIMIT 1")
        .fetchone()[0]
    )
    owner_s, _ = best_result(lambda: command("--owner", owner), args.runs)
    json_s, _ = best_result(lambda: command("--format", "json"), 1)
    as_of_s, _ = best_result(lambda: command("--as-of", "2026-10-31"), 1)
    store.dispose()
    leads, changes = (
        sqlite3.connect(path).execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("lead", "stage_change")
    )
    print(f"database: {path} ({leads:,} leads, {changes:,} stage changes); best of {args.runs}")
    print(
        f"findings: {len(report.rows):,} rows (floor counted {floor_rows:,}) on {len(report.lead_ids):,} deals; {dict(report.counts)}"
    )
    print(f"{'measure':44} {'seconds':>8} {'target':>18}")
    print(f"{'floor: hand-written SQL through sqlite3':44} {floor_s:8.3f}")
    ratio = core_s / floor_s
    print(
        f"{'stale.find_stale in-process (after start-up)':44} {core_s:8.3f} {f'<= 3x floor ({ratio:.1f}x)':>18} {'ok' if ratio <= 3 else 'MISSED'}"
    )
    print(
        f"{'pipecli clean (whole subprocess, text)':44} {whole_s:8.3f} {'< 2 s':>18} {'ok' if whole_s < 2 else 'MISSED'}"
    )
    print(
        f"{'pipecli clean --owner ' + owner + ' (one seller)':44} {owner_s:8.3f} {'< 2 s':>18} {'ok' if owner_s < 2 else 'MISSED'}"
    )
    print(f"{'pipecli clean --format json (one run)':44} {json_s:8.3f}")
    print(f"{'pipecli clean --as-of 2026-10-31 (one run)':44} {as_of_s:8.3f} {'(history; slower)':>18}")


if __name__ == "__main__":
    main()
