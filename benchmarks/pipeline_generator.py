"""Build a realistic pipeline with known parameters directly into a pipecli SQLite database, with its stage
history, so that the backtest can see the past.

The world (every parameter below is known, none is read back by pipecli):
- arrivals: a Poisson number of new deals a day, RATE a month on average, seasonal (×(1 + SEASON·sin) over
  the year), over YEARS years before NOW;
- stages: every deal starts in the first open stage; in each it stays a lognormal time (median STAY days,
  σ .8), then advances with probability ADVANCE[stage], else is lost; after the last open stage it is won
  with probability WIN_LAST;
- rotting: a share ROT of deals stay five times as long in each stage and are lost at the end;
- close dates: 70 % of deals get a typed expected close at creation: creation + the typical cycle; their
  real close slips (the typed dates are optimistic) — the date is never edited, so no event is needed;
- values: lognormal (long tail), median €5,000, σ 1.
Deals whose next move would fall after NOW are open at NOW where they are.

    python benchmarks/pipeline_generator.py --seed 1 --path /tmp/gen1.db
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import sys
from pathlib import Path

from common import DAY, new_database

YEARS = 3
RATE = 150
SEASON = 0.3
STAY = 12
ADVANCE = [0.7, 0.75, 0.8, 0.8, 1.0]
WIN_LAST = 0.65
ROT = 0.15


def build(path: Path, seed: int) -> None:
    """Create the database at `path` from the world of the module docstring drawn with `seed`."""
    import numpy as np

    db, now = new_database(path)
    stages = db.execute("SELECT id, kind, position FROM stage WHERE pipeline_id = 1").fetchall()
    open_ids = [s[0] for s in sorted((s for s in stages if s[1] == "open"), key=lambda s: s[2])]
    won_id = next(s[0] for s in stages if s[1] == "won")
    lost_id = next(s[0] for s in stages if s[1] == "lost")
    rng = np.random.default_rng(seed)
    start = now - YEARS * 365 * DAY
    leads, changes = [], []
    lead_id = 0
    for day in range(YEARS * 365):
        t0 = start + day * DAY
        month = _dt.datetime.fromtimestamp(t0, _dt.UTC).month
        lam = RATE / 30.4 * (1 + SEASON * math.sin(2 * math.pi * (month - 3) / 12))
        for _ in range(rng.poisson(lam)):
            lead_id += 1
            created = t0 + int(rng.integers(0, DAY))
            rotten = rng.random() < ROT
            at, path_rows, outcome = created, [], None
            for k, sid in enumerate(open_ids):
                stay = rng.lognormal(math.log(STAY * DAY * (5 if rotten else 1)), 0.8)
                path_rows.append([sid, at])
                at = int(at + stay)
                if at > now:
                    break
                if rotten or rng.random() > ADVANCE[k]:
                    outcome = "lost"
                    break
                if k == len(open_ids) - 1:
                    outcome = "won" if rng.random() < WIN_LAST else "lost"
            if outcome and at <= now:
                path_rows.append([won_id if outcome == "won" else lost_id, at])
            value = int(rng.lognormal(math.log(5000), 1.0)) * 100
            dated = rng.random() < 0.7
            expected = (
                _dt.datetime.fromtimestamp(created + int(STAY * 5 * 0.8 * DAY), _dt.UTC).date().isoformat()
                if dated
                else None
            )
            last_sid, last_at = path_rows[-1]
            status = "open" if last_sid in open_ids else ("won" if last_sid == won_id else "lost")
            furthest = max(open_ids.index(s) + 1 for s, _ in path_rows if s in open_ids)
            for j, (sid, a) in enumerate(path_rows):
                left = path_rows[j + 1][1] if j + 1 < len(path_rows) else None
                changes.append((lead_id, path_rows[j - 1][0] if j else None, sid, a, left))
            leads.append(
                (lead_id, 1, last_sid, status, f"Deal {lead_id}", value, expected, created,
                 last_at if status != "open" else None, "lost" if status == "lost" else None, last_at, last_at,
                 furthest)
            )  # fmt: skip
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO lead (id, pipeline_id, stage_id, status, name, value_minor, expected_close, created_at,"
        " closed_at, lost_reason, stage_entered_at, last_event_at, furthest_position, fit_score, engagement,"
        " score, qualification) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,0,0,0,'incomplete')",
        leads,
    )
    db.executemany(
        "INSERT INTO stage_change (lead_id, from_stage_id, to_stage_id, at, left_at) VALUES (?,?,?,?,?)", changes
    )
    db.execute("COMMIT")
    db.close()
    print(f"built {path}: {len(leads)} deals, {len(changes)} stage changes", file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--path", type=Path, default=Path("/tmp/pipecli-gen/gen-1.db"))
    args = parser.parse_args()
    build(args.path, args.seed)
    print(args.path)
