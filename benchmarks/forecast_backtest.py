"""The forecast's backtest on generated pipelines (benchmarks/pipeline_generator.py) over several seeds:
24 monthly periods each, pipecli's P10–P90 coverage (target 70–90 %), WAPE and pinball loss of every
forecaster side by side.

    python benchmarks/forecast_backtest.py [--seeds 1 2 3] [--runs 2000] [--db FILE ...]

With --db it backtests those pipecli databases instead (e.g. a real data set imported with its history).

The last line pools every period of every data set: how many actuals fell inside P10–P90, beside the range
(2.5–97.5 %) a truly calibrated 80 % band would land in over that many periods, so that one seed's 22 of 24
is read against chance and not against the 70–90 % target alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pipeline_generator
from common import NOW, ROOT


def backtest(db: Path, runs: int, start: str, end: str) -> dict:
    """Return the JSON backtest of the database `db` through the real command line."""
    env = {**os.environ, "PIPECLI_NOW": NOW, "PIPECLI_DB": str(db), "TZ": "UTC"}
    args = ["forecast", "--backtest", "--from", start, "--to", end, "--runs", str(runs), "--format", "json"]
    out = subprocess.run([sys.executable, "-m", "pipecli", *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(out.stderr.strip())
    return json.loads(out.stdout)


def calibrated_range(periods: int, claim: float = 0.8) -> tuple[int, int]:
    """Return the 2.5 % and 97.5 % quantiles of how many of `periods` actuals a band that truly holds the
    actual with probability `claim` would hold: the binomial's, computed exactly."""
    low = high = None
    total = 0.0
    for k in range(periods + 1):
        total += math.comb(periods, k) * claim**k * (1 - claim) ** (periods - k)
        if low is None and total >= 0.025:
            low = k
        if high is None and total >= 0.975:
            high = k
    assert low is not None and high is not None
    return low, high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--db", type=Path, nargs="*", default=[])
    parser.add_argument("--from", dest="start", default="2024-11-01")
    parser.add_argument("--to", dest="end", default="2026-10-31")
    args = parser.parse_args()
    targets = [(str(p), p) for p in args.db]
    if not targets:
        for seed in args.seeds:
            path = Path(f"/tmp/pipecli-gen/gen-{seed}.db")
            pipeline_generator.build(path, seed)
            targets.append((f"generator seed {seed}", path))
    header = f"{'data':<20} {'periods':>7} {'coverage':>8}  " + "  ".join(
        f"{n + ' WAPE':>20} {n + ' pinball':>22}" for n in ("pipecli", "stage_weighted", "last_period", "mean_of_3")
    )
    print(header)
    inside = periods = 0
    for name, path in targets:
        data = backtest(path, args.runs, args.start, args.end)
        scores = {f["forecaster"]: f for f in data["forecasters"]}
        cov = scores["pipecli"]["coverage"]
        cells = "  ".join(
            f"{scores[n]['wape'] * 100:>19.1f}% {scores[n]['pinball'] * 100:>21.1f}%"
            for n in ("pipecli", "stage_weighted", "last_period", "mean_of_3")
        )
        print(f"{name:<20} {data['period_count']:>7} {cov * 100:>7.1f}%  {cells}")
        print(f"{'':<20} {data['verdict']}")
        periods += data["period_count"]
        inside += round(cov * data["period_count"])
    if len(targets) > 1 and periods:
        low, high = calibrated_range(periods)
        print(
            f"all {len(targets)} data sets: {inside} of {periods} actuals inside P10–P90 ({inside / periods * 100:.1f} %);"
            f" a calibrated 80 % band holds {low}–{high} of {periods} (95 % of the time)"
        )


if __name__ == "__main__":
    main()
