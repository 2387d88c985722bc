"""Report speed on 1,000,000 leads and ~4,000,000 stage changes, side by side with a floor.

For each report: its own work timed in-process (the core function on an open store, after start-up), the
floor (the same figures by hand-written SQL through the standard sqlite3 module, plus the same numpy draws
for the forecast's ranges), and the whole command as a subprocess (start-up, query, rendering; output piped
to /dev/null). Each timing is the best of --repeat runs on a warm cache. Targets: own work within 3× the
floor, whole command under 2 s.

    python benchmarks/reports.py [--leads 1000000] [--repeat 3] [--only metrics,forecast]

A report is one `@report(...)` function returning (core, floor, argv); see `clean` at the end for the shape.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
from pathlib import Path

import bigdb
from common import ROOT, best, freeze, pipecli

freeze()

REPORTS: dict[str, callable] = {}
NOW_TS = None
STORE = None  # the open store (a floor may capture the statements a report sends)


def report(name: str):
    """Register a report: the decorated function returns (core(conn), floor(sqlite3 connection), argv)."""

    def wrap(fn):
        REPORTS[name] = fn
        return fn

    return wrap


def _open_ids(db: sqlite3.Connection) -> list[int]:
    return [
        r[0]
        for r in db.execute("SELECT id FROM stage WHERE pipeline_id = :p AND kind = 'open' ORDER BY position", {"p": 1})
    ]


def _median(pairs):
    from pipecli.reports.state import percentile

    return percentile(pairs, 0.5)


@report("metrics")
def metrics_report():
    from pipecli.reports import metrics

    def floor(db):
        t = NOW_TS
        ids = ",".join(map(str, _open_ids(db)))
        db.execute(
            "SELECT source, COUNT(*) FROM lead WHERE pipeline_id = :p AND created_at <= :t GROUP BY source",
            {"p": 1, "t": t},
        ).fetchall()
        db.execute(
            "SELECT status, COUNT(*), SUM(value_minor), COUNT(value_minor), SUM(closed_at - created_at) FROM lead "
            "WHERE pipeline_id = :p AND status IN ('won', 'lost') AND closed_at <= :t GROUP BY status",
            {"p": 1, "t": t},
        ).fetchall()
        cycle = db.execute(
            "SELECT (closed_at - created_at) / 3600, COUNT(*) FROM lead WHERE pipeline_id = :p AND status = 'won' "
            "AND closed_at <= :t GROUP BY (closed_at - created_at) / 3600",
            {"p": 1, "t": t},
        ).fetchall()
        db.execute(
            "SELECT furthest_position, status, COUNT(*), SUM(value_minor) FROM lead WHERE pipeline_id = :p "
            "AND created_at <= :t GROUP BY 1, 2",
            {"p": 1, "t": t},
        ).fetchall()
        db.execute(
            "SELECT stage_id, COUNT(*), SUM(value_minor), SUM(:t - created_at) FROM lead WHERE pipeline_id = :p "
            "AND status = 'open' AND archived_at IS NULL GROUP BY stage_id",
            {"p": 1, "t": t},
        ).fetchall()
        dur = db.execute(
            f"SELECT to_stage_id, (left_at - at) / 3600, COUNT(*) FROM stage_change WHERE to_stage_id IN ({ids}) "
            "AND left_at IS NOT NULL GROUP BY 1, 2"
        ).fetchall()
        _median(cycle)
        for sid in _open_ids(db):
            _median([(h, n) for s, h, n in dur if s == sid])

    return (lambda conn: metrics.metrics(conn)), floor, ["metrics"]


@report("funnel")
def funnel_report():
    from pipecli.reports import metrics

    def floor(db):
        t = NOW_TS
        db.execute(
            "SELECT furthest_position, status, COUNT(*), SUM(value_minor) FROM lead WHERE pipeline_id = :p "
            "AND created_at <= :t GROUP BY 1, 2",
            {"p": 1, "t": t},
        ).fetchall()
        db.execute(
            "SELECT stage_id, COUNT(*), SUM(value_minor) FROM lead WHERE pipeline_id = :p AND status = 'open' "
            "AND archived_at IS NULL GROUP BY stage_id",
            {"p": 1},
        ).fetchall()

    return (lambda conn: metrics.funnel(conn)), floor, ["funnel"]


@report("forecast")
def forecast_report():
    """The forecast against its SQL floor: every statement the forecast sends (captured from one run of it)
    sent again through sqlite3 directly, rows fetched, plus the same number of normal draws for the ranges.
    The difference is pipecli's own Python: the hazards, the per-deal rows and the Monte Carlo."""
    import numpy as np
    from sqlalchemy import event

    from pipecli.reports import forecast

    runs = 10000
    core = lambda conn: forecast.forecast(conn, target=1_000_000_00, runs=runs)  # noqa: E731
    captured: list = []

    def floor(db):
        if not captured:
            engine = STORE.engine

            def keep(conn, cursor, statement, parameters, context, executemany):
                if statement.lstrip().upper().startswith(("SELECT", "WITH")):  # not the store's own BEGIN/PRAGMA
                    captured.append((statement, parameters))

            event.listen(engine, "before_cursor_execute", keep)
            try:
                with STORE.read() as conn:
                    core(conn)
            finally:
                event.remove(engine, "before_cursor_execute", keep)
        for statement, parameters in captured:
            db.execute(statement, parameters).fetchall()
        rng = np.random.default_rng(1)
        rng.standard_normal((runs, 3))
        rng.standard_normal((runs, 3))

    return core, floor, ["forecast", "--target", "1000000"]


@report("list")
def list_report():
    """`list --sort score`: the floor is the same statement (the total decayed to now, as scoring.total_sql
    writes it) sent through sqlite3 directly."""
    from pipecli import listing
    from pipecli.scoring import score as scoring

    order = listing.ORDER_BY["score"]

    def floor(db):
        score, params = scoring.total_sql("l")
        columns = listing.LIST_COLUMNS.replace("l.score", f"{score} AS score")
        db.execute(
            f"SELECT {columns} FROM lead l JOIN stage s ON s.id = l.stage_id JOIN pipeline p ON p.id = l.pipeline_id "
            f"WHERE l.status = 'open' AND l.archived_at IS NULL ORDER BY {order} LIMIT 100",
            params,
        ).fetchall()

    core = lambda conn: listing.list_leads(conn, listing.LeadFilter(status="open"), "score", 100)  # noqa: E731
    return core, floor, ["list", "--status", "open", "--sort", "score", "--limit", "100"]


@report("clean")
def clean_report():
    """The stale report against benchmarks/clean.py's floor: the same rules and rows by hand-written SQL."""
    import clean as clean_bench

    from pipecli.reports import clean as stale

    def floor(db):
        clean_bench.floor(Path(db.execute("PRAGMA database_list").fetchone()[2]))

    return (lambda conn: stale.find_stale(conn)), floor, ["clean"]


def main() -> None:
    global NOW_TS, STORE
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default=None, help="comma-separated report names")
    args = parser.parse_args()
    path = bigdb.ensure(bigdb.path_for(args.leads), args.leads)

    from pipecli import clock
    from pipecli.store.db import Store

    NOW_TS = clock.now_ts()
    store = STORE = Store.open(str(path))
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA mmap_size = 1073741824")  # as pipecli reads it (store/db.py)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    wanted = args.only.split(",") if args.only else list(REPORTS)
    print(
        f"database: {path} ({args.leads:,} leads, "
        f"{raw.execute('SELECT COUNT(*) FROM stage_change').fetchone()[0]:,} stage changes); best of {args.repeat}"
    )
    print(f"{'report':<10} {'own work':>10} {'floor':>10} {'ratio':>7} {'command':>9}  targets (≤3× floor, <2 s)")
    for name in wanted:
        made = REPORTS[name]()
        if made is None:
            print(f"{name:<10} (not present on this branch)")
            continue
        core, floor, argv = made

        def own(core=core):
            with store.read() as conn:
                core(conn)

        own()  # warm the cache
        t_own = best(own, args.repeat)
        t_floor = best(lambda floor=floor: floor(raw), args.repeat)
        cmd = pipecli(path, *argv)
        t_cmd = best(
            lambda cmd=cmd: subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, check=True), args.repeat
        )
        ratio = t_own / t_floor if t_floor else float("inf")
        ok = "ok" if ratio <= 3 and t_cmd < 2 else "MISSED"
        print(
            f"{name:<10} {t_own * 1000:>8.1f}ms {t_floor * 1000:>8.1f}ms {ratio:>6.2f}× {t_cmd:>8.2f}s  {ok}   ({' '.join(argv)})"
        )
    store.dispose()


if __name__ == "__main__":
    main()
