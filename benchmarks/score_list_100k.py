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
import tempfile
import time
from pathlib import Path

from common import command_env, pipecli, timed

NOW = 1795770000  # the leads' engagement is dated from a day before the frozen now (`common.NOW`)


def build(db: str, n: int) -> None:
    from sqlalchemy import text

    from pipecli import pipelines

    rng = random.Random(1)
    store = pipelines.open_store(db, create=True)  # with the default pipeline
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
        env = command_env(tmp)
        commands = [
            ["list", "--sort", "id", "--limit", "20"],
            ["list", "--sort", "score", "--limit", "20"],
            ["list", "--hot", "--limit", "20"],
            ["score", "--limit", "20"],
        ]
        found = timed({" ".join(cmd): (pipecli(db, *cmd), env) for cmd in commands}, args.runs)
        (reference, reference_cpu), *_ = found.values()
        print(f"{args.leads} open leads; median wall and CPU of {args.runs} runs")
        for i, (name, (t, cpu)) in enumerate(found.items()):
            note = "(reference)" if i == 0 else f"({t / reference:.2f}x wall, {cpu / reference_cpu:.2f}x CPU)"
            print(f"  {name:<30} {t:6.3f}s  {cpu:6.3f}s CPU  {note}")
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
