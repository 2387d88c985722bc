"""`pipecli list --sort score` on 100,000 leads, side by side with `--sort id` (target: well under a second).

    python benchmarks/score_list_100k.py [--leads 100000] [--runs 5]

Builds a database of N open leads with stored fit, engagement and engagement times spread over a year
(as the write hooks leave them), then prints the median wall time of whole CLI runs (`list --sort score
--limit 20`, `list --hot --limit 20`, `score --limit 20`, against `list --sort id --limit 20`) and of the
core query `leads.list_leads` sorting every lead by its score decayed to now, and of a full recompute.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from startup import timed  # noqa: E402  (the same median-of-runs timer)

NOW = 1795770000


def build(db: str, n: int) -> None:
    from sqlalchemy import text

    from pipecli import pipelines
    from pipecli.store.db import Store

    rng = random.Random(1)
    store = Store.open(db, create=True)
    with store.write() as conn:
        p = pipelines.get_pipeline(conn)
        stage_ids = [s["id"] for s in pipelines.stages(conn, p["id"], outcomes=False)]
        rows = []
        for i in range(1, n + 1):
            at = NOW - rng.randint(0, 365 * 86400)
            fit = rng.choice([0, 5, 15, 25, 30])
            eng = rng.random() * 80
            rows.append(
                {"i": i, "p": p["id"], "s": rng.choice(stage_ids), "n": f"Lead {i}", "at": at, "f": fit, "e": eng}
            )
        conn.execute(
            text(
                "INSERT INTO lead (id, pipeline_id, stage_id, status, name, created_at, stage_entered_at, last_event_at,"
                " furthest_position, fit_score, engagement, engagement_at, score, qualification) "
                "VALUES (:i, :p, :s, 'open', :n, :at, :at, :at, 1, :f, :e, :at, :f + :e, 'incomplete')"
            ),
            rows,
        )
    store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "big.db")
        build(db, args.leads)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PIPECLI_NOW": "2026-11-28T09:00:00+00:00",
            "PIPECLI_CONFIG": str(Path(tmp) / "none.toml"),
        }
        base = [sys.executable, "-m", "pipecli", "--db", db]
        reference = timed(base + ["list", "--sort", "id", "--limit", "20"], env, args.runs)
        print(f"{args.leads} open leads; median of {args.runs} runs")
        print(f"  list --sort id --limit 20      {reference:6.3f}s  (reference)")
        for cmd in (
            ["list", "--sort", "score", "--limit", "20"],
            ["list", "--hot", "--limit", "20"],
            ["score", "--limit", "20"],
        ):
            t = timed(base + cmd, env, args.runs)
            print(f"  {' '.join(cmd):<30} {t:6.3f}s  ({t / reference:.2f}x)")
        os.environ.update(env)
        from pipecli import listing
        from pipecli.store.db import Store

        store = Store.open(db, create=True)
        with store.read() as conn:
            start = time.perf_counter()
            top = listing.list_leads(conn, listing.LeadFilter(), "score", limit=20)
            took_top = time.perf_counter() - start
            start = time.perf_counter()
            rows = listing.list_leads(conn, listing.LeadFilter(), "score")
            took = time.perf_counter() - start
        with store.write() as conn:
            from pipecli.scoring import score as scoring

            start = time.perf_counter()
            count = scoring.recompute(conn)
            recomputed = time.perf_counter() - start
        store.dispose()
        print(f"  core list_leads(sort='score', limit=20): {took_top:.3f}s ({len(top)} rows)")
        print(f"  core list_leads(sort='score'), all {len(rows)} rows: {took:.3f}s")
        print(f"  score --recompute core, {count} leads: {recomputed:.3f}s")


if __name__ == "__main__":
    main()
