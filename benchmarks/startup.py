"""Start-up cost of everyday commands, side by side with the floor of importing the fixed libraries.

    python benchmarks/startup.py [--runs 15]

Prints the median wall time of `pipecli --version`, `pipecli list` on a 100-lead database, and the floor
`python -c "import typer, sqlmodel, pendulum"`, with the ratios. Targets: list <= 1.2x the floor,
--version well under it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], env: dict, runs: int) -> float:
    """Return the median wall time in seconds of running `cmd` `runs` times (after one warm-up)."""
    subprocess.run(cmd, env=env, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PIPECLI_DB": str(db),
            "PIPECLI_CONFIG": str(Path(tmp) / "c.toml"),
        }
        pipecli = [sys.executable, "-m", "pipecli"]
        subprocess.run(
            pipecli + ["demo", "--leads", "100", "--into", str(db)], env=env, capture_output=True, check=True
        )
        floor = timed([sys.executable, "-c", "import typer, sqlmodel, pendulum"], env, args.runs)
        version = timed(pipecli + ["--version"], env, args.runs)
        listing = timed(pipecli + ["list"], env, args.runs)
    print(f"{'command':<54}{'median':>10}{'x floor':>10}")
    for name, value in [
        ('floor: python -c "import typer, sqlmodel, pendulum"', floor),
        ("pipecli --version", version),
        ("pipecli list (100 leads)", listing),
    ]:
        print(f"{name:<54}{value * 1000:>8.0f}ms{value / floor:>10.2f}")
    print(
        f"target: list <= 1.20x floor ({'met' if listing <= 1.2 * floor else 'NOT met'}); "
        f"--version under floor ({'met' if version < floor else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
