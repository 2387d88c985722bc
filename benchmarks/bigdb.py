"""Build (once) a large pipecli database for the report benchmarks: 1,000,000 leads, ~4,000,000 stage changes.

The schema is pipecli's own (`Store.open` creates it with the default Sales pipeline); the rows are bulk
inserted with the standard sqlite3 module and keep every invariant the writes keep: one creation row per
lead, forward moves through open stages, an outcome row for closed leads, `left_at` on every row but the
last, and the lead's cached columns (`status`, `stage_id`, `stage_entered_at`, `last_event_at`,
`furthest_position`, `closed_at`) equal to what its history says. Indexes are dropped during the load and
recreated from pipecli's own DDL afterwards.

    python benchmarks/bigdb.py [--leads N] [--path FILE]   # prints the path; reuses the file when present
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sys
import time
from pathlib import Path

from common import DAY, NOW, best, new_database

__all__ = ["DEFAULT_PATH", "NOW", "best", "build", "ensure", "path_for"]  # NOW and best: for older callers
# v3: the schema's version; no ANALYZE statistics, as pipecli never gathers them (users' files have none)
DEFAULT_PATH = Path(os.environ.get("PIPECLI_BENCH_DB", "/tmp/pipecli-bench/big-v3-1000000.db"))


def path_for(leads: int) -> Path:
    """Return where the benchmark database of `leads` leads is cached."""
    return DEFAULT_PATH.with_name(f"big-v3-{leads}.db")


SOURCES = ["web", "referral", "event", "partner", "cold-call", "ads"]
OWNERS = [f"seller{i:02d}" for i in range(1, 11)]


def build(path: Path, n: int, seed: int = 7) -> None:
    """Create the database at `path` with `n` leads and their stage history."""
    import numpy as np

    tmp = path.with_suffix(".building")
    db, now = new_database(tmp)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -400000")
    stages = db.execute("SELECT id, kind, position FROM stage WHERE pipeline_id = 1 ORDER BY kind, position").fetchall()
    open_ids = [s[0] for s in sorted((s for s in stages if s[1] == "open"), key=lambda s: s[2])]
    won_id = next(s[0] for s in stages if s[1] == "won")
    lost_id = next(s[0] for s in stages if s[1] == "lost")
    n_open = len(open_ids)
    index_ddl = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
        "AND tbl_name IN ('lead', 'stage_change')"
    ).fetchall()
    for name, _ in index_ddl:
        db.execute(f"DROP INDEX {name}")

    rng = np.random.default_rng(seed)
    created = now - rng.integers(0, 3 * 365 * DAY, n)
    furthest = rng.integers(1, n_open + 1, n)  # 1..5
    age = now - created
    closed_p = np.clip(age / (120 * DAY), 0.05, 0.95)
    closed = rng.random(n) < closed_p
    won = closed & (rng.random(n) < 0.08 + 0.13 * furthest)
    # Durations in each stage (days, exponential), cumulated; the whole path is fitted inside the lead's age.
    steps = furthest - 1 + closed.astype(np.int64)
    dur = rng.exponential(12 * DAY, (n, n_open + 1))
    total = np.where(
        steps > 0, np.take_along_axis(np.cumsum(dur, axis=1), np.maximum(steps - 1, 0)[:, None], 1)[:, 0], 0
    )
    scale = np.where(total > 0, np.minimum(1.0, (age * 0.9) / np.maximum(total, 1)), 1.0)
    times = created[:, None] + np.cumsum(dur * scale[:, None], axis=1).astype(np.int64)
    value = rng.integers(100, 50000, n) * 100
    value[rng.random(n) < 0.03] = -1
    source = rng.integers(0, len(SOURCES), n)
    owner = rng.integers(0, len(OWNERS), n)
    score = np.round(rng.random(n) * 100, 2)
    has_close = rng.random(n) < 0.7
    # contact details and next steps with the gaps of a kept pipeline: most leads can be reached and most
    # open deals have a next step, so `clean` reports the real exceptions, not every deal
    has_email = rng.random(n) < 0.96
    has_phone = rng.random(n) < 0.6
    has_next = rng.random(n) < 0.85
    close_in = rng.integers(-30, 200, n)
    today = _dt.date.fromtimestamp(now)

    def lead_rows():
        for i in range(n):
            k = int(furthest[i])
            c = int(created[i])
            nsteps = int(steps[i])
            last = int(times[i, nsteps - 1]) if nsteps else c
            if closed[i]:
                status, stage_id, closed_at = ("won", won_id, last) if won[i] else ("lost", lost_id, last)
            else:
                status, stage_id, closed_at = "open", open_ids[k - 1], None
            exp = (
                (today + _dt.timedelta(days=int(close_in[i]))).isoformat() if (has_close[i] and not closed[i]) else None
            )
            v = int(value[i])
            yield (
                i + 1,
                1,
                stage_id,
                status,
                f"Lead {i + 1}",
                f"Company {i % 50000}",
                f"lead{i + 1}@company{i % 50000}.example" if has_email[i] else None,
                f"+39 06 {i + 1}" if has_phone[i] else None,
                None if v < 0 else v,
                SOURCES[source[i]],
                OWNERS[owner[i]],
                exp,
                c,
                closed_at,
                "lost" if status == "lost" else None,
                last,
                None,
                last,
                k,
                float(score[i]),
                0.0,
                None,
                float(score[i]),
                "incomplete",
                "call back" if has_next[i] and status == "open" else None,
            )

    def change_rows():
        for i in range(n):
            c = int(created[i])
            nsteps = int(steps[i])
            path_ids = open_ids[: int(furthest[i])]
            if closed[i]:
                path_ids = path_ids + [won_id if won[i] else lost_id]
            ats = [c] + [int(t) for t in times[i, :nsteps]]
            for j, sid in enumerate(path_ids):
                left = ats[j + 1] if j + 1 < len(ats) else None
                yield (i + 1, path_ids[j - 1] if j else None, sid, ats[j], left)

    started = time.perf_counter()
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO lead (id, pipeline_id, stage_id, status, name, company, email, phone, value_minor, source,"
        " owner, expected_close, created_at, closed_at, lost_reason, stage_entered_at, last_activity_at,"
        " last_event_at, furthest_position, fit_score, engagement, engagement_at, score, qualification, next_step) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        lead_rows(),
    )
    db.executemany(
        "INSERT INTO stage_change (lead_id, from_stage_id, to_stage_id, at, left_at) VALUES (?,?,?,?,?)",
        change_rows(),
    )
    db.execute("COMMIT")
    for _, sql in index_ddl:
        db.execute(sql)
    db.close()
    os.replace(tmp, path)
    print(f"built {path} in {time.perf_counter() - started:.0f}s", file=sys.stderr)


def ensure(path: Path = DEFAULT_PATH, n: int = 1_000_000) -> Path:
    """Return the path of the benchmark database, building it first when it is not there."""
    if not path.exists():
        build(path, n)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--path", type=Path, default=None)
    args = parser.parse_args()
    target = args.path or path_for(args.leads)
    print(ensure(target, args.leads))
